"""Small typed building blocks: the group, hashing, ElGamal, proofs and blind RSA."""
