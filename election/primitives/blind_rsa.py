"""RSA blind signatures, RFC 9474 (RSABSSA).

The four RFC variants (SHA-384, PSS or PSSZERO, randomized or deterministic) pass the RFC's
published test vectors (``tests/election/vectors/rfc9474.json``). ippyo deploys the same code
with one more instantiation, :data:`Variant.IPPYO` = RSABSSA-SHA256-PSSZERO-Deterministic:

- SHA-256 and MGF1-SHA-256, because the EVM has a SHA-256 precompile and no SHA-384 one, so
  the BallotBox contract can verify a token's signature with ``sha256`` and ``modexp``;
- salt length 0 and no message randomizer, because the signed message (election id ‖ token
  address) is already unpredictable and unique, and because then a token has exactly one valid
  signature: a re-issue after a kiosk crash returns the very same signature.

Operations follow RFC 9474 §4: :func:`prepare`, :func:`blind` (client), :func:`blind_sign`
(signer; checks its own result against fault attacks), :func:`finalize` (client; verifies),
:func:`verify` (anyone).
"""

from __future__ import annotations

import enum
import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from election.errors import EncodingError, InvalidSignature

try:
    from gmpy2 import powmod as _powmod
except ImportError:  # pragma: no cover - gmpy2 is a declared dependency; pow() is correct too
    _powmod = pow


class Variant(enum.Enum):
    """An RSABSSA instantiation: (hash name, salt length in bytes, randomized message)."""

    SHA384_PSS_RANDOMIZED = ("sha384", 48, True)
    SHA384_PSSZERO_RANDOMIZED = ("sha384", 0, True)
    SHA384_PSS_DETERMINISTIC = ("sha384", 48, False)
    SHA384_PSSZERO_DETERMINISTIC = ("sha384", 0, False)
    #: ippyo's deployed instantiation (see the module docstring).
    IPPYO = ("sha256", 0, False)

    @property
    def hash_name(self) -> str:
        return self.value[0]

    @property
    def salt_length(self) -> int:
        return self.value[1]

    @property
    def randomized(self) -> bool:
        return self.value[2]

    @property
    def rfc_name(self) -> str:
        h, s, r = self.value
        return (
            f"RSABSSA-{h.upper()}-{'PSS' if s else 'PSSZERO'}-"
            f"{'Randomized' if r else 'Deterministic'}"
        )


PREFIX_LENGTH: Final = 32

REGISTRAR_EXPONENT: Final = 65537
"""The only public exponent a registrar key may have (e = 1 makes every PSS encoding a
"signature"; small exponents are refused as a matter of policy)."""
MIN_MODULUS_BITS: Final = 2048
MAX_MODULUS_BITS: Final = 4096


class WeakRegistrarKey(EncodingError):
    """An RSA public key outside ippyo's policy: e ≠ 65537, or a modulus that is not an odd
    number of 2048 to 4096 bits. Raised wherever an :class:`RSAPublicKey` is built (parsing
    JSON, PEM, a record) and by :func:`generate_key`."""


def check_public_key(n: int, e: int) -> None:
    """:class:`WeakRegistrarKey` unless ``n`` is odd with 2048–4096 bits and ``e`` = 65537."""
    if (
        isinstance(n, bool)
        or not isinstance(n, int)
        or isinstance(e, bool)
        or not isinstance(e, int)
    ):
        raise WeakRegistrarKey("an RSA modulus and exponent are integers")
    if not MIN_MODULUS_BITS <= n.bit_length() <= MAX_MODULUS_BITS or n % 2 == 0:
        raise WeakRegistrarKey(
            f"a registrar key's modulus must be odd and of {MIN_MODULUS_BITS} to "
            f"{MAX_MODULUS_BITS} bits; this one has {n.bit_length()}"
        )
    if e != REGISTRAR_EXPONENT:
        raise WeakRegistrarKey(f"a registrar key's public exponent must be 65537, not {e}")


@dataclass(frozen=True, slots=True)
class RSAPublicKey:
    """An RSA public key ``(n, e)``."""

    n: int
    e: int

    def __post_init__(self) -> None:
        check_public_key(self.n, self.e)

    @property
    def bits(self) -> int:
        return self.n.bit_length()

    @property
    def size(self) -> int:
        """k: the modulus length in bytes; signatures and blinded messages have this length."""
        return (self.bits + 7) // 8

    def modulus_bytes(self) -> bytes:
        return self.n.to_bytes(self.size, "big")

    def exponent_bytes(self) -> bytes:
        return self.e.to_bytes((self.e.bit_length() + 7) // 8, "big")


@dataclass(frozen=True, slots=True)
class RSAPrivateKey:
    """An RSA private key with its CRT components."""

    n: int
    e: int
    d: int
    p: int
    q: int

    def __post_init__(self) -> None:
        check_public_key(self.n, self.e)
        if self.p * self.q != self.n:
            raise EncodingError("RSA private key: p·q ≠ n")

    @property
    def public_key(self) -> RSAPublicKey:
        return RSAPublicKey(self.n, self.e)


@dataclass(frozen=True, slots=True)
class BlindingResult:
    blinded_msg: bytes
    """The value sent to the signer (k bytes). It reveals nothing about the message."""
    inv: bytes
    """r⁻¹ mod n (k bytes): the client's secret that unblinds the signature."""


def _hash(variant: Variant, data: bytes) -> bytes:
    return hashlib.new(variant.hash_name, data).digest()


def _i2osp(x: int, length: int) -> bytes:
    if x >= 1 << (8 * length):
        raise EncodingError("integer too large")
    return x.to_bytes(length, "big")


def _mgf1(variant: Variant, seed: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += _hash(variant, seed + counter.to_bytes(4, "big"))
        counter += 1
    return bytes(out[:length])


def emsa_pss_encode(variant: Variant, msg: bytes, em_bits: int, salt: bytes) -> bytes:
    """EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with the variant's hash and MGF1."""
    h_len = hashlib.new(variant.hash_name).digest_size
    em_len = (em_bits + 7) // 8
    if em_len < h_len + len(salt) + 2:
        raise EncodingError("RSA modulus too short for this encoding")
    m_hash = _hash(variant, msg)
    h = _hash(variant, bytes(8) + m_hash + salt)
    db = bytes(em_len - len(salt) - h_len - 2) + b"\x01" + salt
    masked = bytes(a ^ b for a, b in zip(db, _mgf1(variant, h, em_len - h_len - 1), strict=True))
    masked = bytes([masked[0] & (0xFF >> (8 * em_len - em_bits))]) + masked[1:]
    return masked + h + b"\xbc"


def _emsa_pss_verify(variant: Variant, msg: bytes, em: bytes, em_bits: int) -> None:
    h_len = hashlib.new(variant.hash_name).digest_size
    s_len = variant.salt_length
    em_len = (em_bits + 7) // 8
    if len(em) != em_len or em_len < h_len + s_len + 2:
        raise InvalidSignature("encoded message has the wrong length")
    if em[-1] != 0xBC:
        raise InvalidSignature("encoded message does not end in 0xbc")
    masked, h = em[: em_len - h_len - 1], em[em_len - h_len - 1 : -1]
    top_mask = (0xFF << (8 - (8 * em_len - em_bits))) & 0xFF
    if masked[0] & top_mask:
        raise InvalidSignature("encoded message has non-zero leading bits")
    db = bytearray(a ^ b for a, b in zip(masked, _mgf1(variant, h, len(masked)), strict=True))
    db[0] &= 0xFF >> (8 * em_len - em_bits)
    ps_len = em_len - h_len - s_len - 2
    if any(db[:ps_len]) or db[ps_len] != 0x01:
        raise InvalidSignature("encoded message padding is wrong")
    salt = bytes(db[ps_len + 1 :])
    if _hash(variant, bytes(8) + _hash(variant, msg) + salt) != h:
        raise InvalidSignature("signature does not match the message")


def prepare(variant: Variant, msg: bytes, prefix: bytes | None = None) -> bytes:
    """RFC 9474 Prepare: prepend 32 random bytes for randomized variants, else identity."""
    if not variant.randomized:
        if prefix:
            raise ValueError("deterministic variants take no message prefix")
        return msg
    if prefix is None:
        prefix = secrets.token_bytes(PREFIX_LENGTH)
    if len(prefix) != PREFIX_LENGTH:
        raise ValueError(f"the message prefix is {PREFIX_LENGTH} bytes")
    return prefix + msg


def blind(
    public_key: RSAPublicKey,
    variant: Variant,
    prepared_msg: bytes,
    *,
    salt: bytes | None = None,
    r: int | None = None,
    randbelow: Callable[[int], int] = secrets.randbelow,
) -> BlindingResult:
    """RFC 9474 Blind. ``salt`` and ``r`` may be given (test vectors, deterministic tokens)."""
    if salt is None:
        salt = secrets.token_bytes(variant.salt_length)
    if len(salt) != variant.salt_length:
        raise ValueError(f"{variant.rfc_name} takes a {variant.salt_length}-byte salt")
    n, k = public_key.n, public_key.size
    encoded = emsa_pss_encode(variant, prepared_msg, public_key.bits - 1, salt)
    m = int.from_bytes(encoded, "big")
    if math.gcd(m, n) != 1:
        raise InvalidSignature("invalid input: the encoded message shares a factor with n")
    if r is None:
        r = 0
        while r == 0 or math.gcd(r, n) != 1:
            r = randbelow(n)
    r %= n
    if r == 0 or math.gcd(r, n) != 1:
        raise ValueError("the blinding factor is not invertible modulo n")
    inv = pow(r, -1, n)
    z = m * pow(r, public_key.e, n) % n
    return BlindingResult(_i2osp(z, k), _i2osp(inv, k))


def _private_op(key: RSAPrivateKey, m: int) -> int:
    # CRT: two half-size exponentiations, about 3× faster than pow(m, d, n); GMP's powmod
    # (gmpy2) is another ~5× faster than CPython's for 1024-bit operands.
    dp, dq = key.d % (key.p - 1), key.d % (key.q - 1)
    m1, m2 = int(_powmod(m % key.p, dp, key.p)), int(_powmod(m % key.q, dq, key.q))
    h = (pow(key.q, -1, key.p) * (m1 - m2)) % key.p
    return m2 + h * key.q


def blind_sign(private_key: RSAPrivateKey, blinded_msg: bytes) -> bytes:
    """RFC 9474 BlindSign: the raw RSA signature of a blinded message, self-checked."""
    k = private_key.public_key.size
    if len(blinded_msg) != k:
        raise EncodingError(f"a blinded message is {k} bytes, got {len(blinded_msg)}")
    m = int.from_bytes(blinded_msg, "big")
    if m >= private_key.n:
        raise EncodingError("the blinded message is not below the modulus")
    s = _private_op(private_key, m)
    check_blind_signature(private_key.public_key, blinded_msg, _i2osp(s, k))
    return _i2osp(s, k)


def check_blind_signature(public_key: RSAPublicKey, blinded_msg: bytes, blind_sig: bytes) -> None:
    """Check ``blind_sig^e = blinded_msg``: RFC 9474 requires it before a blind signature
    leaves the signer (a faulty CRT computation would otherwise leak the key). Signers whose
    key sits in a PKCS#11 token use this too."""
    s = int.from_bytes(blind_sig, "big")
    if len(blind_sig) != public_key.size or s >= public_key.n:
        raise InvalidSignature("blind signature has the wrong length or is not below n")
    if pow(s, public_key.e, public_key.n) != int.from_bytes(blinded_msg, "big"):
        raise InvalidSignature("signing failure: the blind signature does not verify")


def finalize(
    public_key: RSAPublicKey,
    variant: Variant,
    prepared_msg: bytes,
    blind_sig: bytes,
    inv: bytes,
) -> bytes:
    """RFC 9474 Finalize: unblind, then verify (raises if the signer cheated)."""
    k = public_key.size
    if len(blind_sig) != k or len(inv) != k:
        raise EncodingError(f"blind signature and inverse are {k} bytes each")
    s = int.from_bytes(blind_sig, "big") * int.from_bytes(inv, "big") % public_key.n
    sig = _i2osp(s, k)
    verify(public_key, variant, prepared_msg, sig)
    return sig


def verify(
    public_key: RSAPublicKey, variant: Variant, prepared_msg: bytes, signature: bytes
) -> None:
    """RSASSA-PSS-VERIFY for the variant: ``None`` or :class:`InvalidSignature`."""
    if len(signature) != public_key.size:
        raise InvalidSignature(
            f"signature is {len(signature)} bytes; the registrar's key needs {public_key.size}"
        )
    s = int.from_bytes(signature, "big")
    if s >= public_key.n:
        raise InvalidSignature("signature is not below the modulus")
    em_bits = public_key.bits - 1
    em_len = (em_bits + 7) // 8
    m = int(_powmod(s, public_key.e, public_key.n))
    if m >= 1 << (8 * em_len):
        raise InvalidSignature("signature representative is too large")
    _emsa_pss_verify(variant, prepared_msg, m.to_bytes(em_len, "big"), em_bits)


def generate_key(bits: int = 2048) -> RSAPrivateKey:
    """A fresh RSA key (e = 65537, 2048–4096 bits) from ``cryptography``'s generator."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    if not MIN_MODULUS_BITS <= bits <= MAX_MODULUS_BITS:
        raise WeakRegistrarKey(
            f"a registrar key has {MIN_MODULUS_BITS} to {MAX_MODULUS_BITS} bits, not {bits}"
        )
    numbers = rsa.generate_private_key(65537, bits).private_numbers()
    pub = numbers.public_numbers
    return RSAPrivateKey(pub.n, pub.e, numbers.d, numbers.p, numbers.q)


# Kept as the name other components were told about.
generate_test_key = generate_key


def private_key_to_pem(key: RSAPrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    numbers = rsa.RSAPrivateNumbers(
        key.p,
        key.q,
        key.d,
        key.d % (key.p - 1),
        key.d % (key.q - 1),
        pow(key.q, -1, key.p),
        rsa.RSAPublicNumbers(key.e, key.n),
    )
    return numbers.private_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(data: bytes) -> RSAPrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise EncodingError("the PEM file does not hold an RSA private key")
    numbers = key.private_numbers()
    pub = numbers.public_numbers
    return RSAPrivateKey(pub.n, pub.e, numbers.d, numbers.p, numbers.q)


def public_key_to_pem(key: RSAPublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    return (
        rsa.RSAPublicNumbers(key.e, key.n)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def public_key_from_pem(data: bytes) -> RSAPublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise EncodingError("the PEM file does not hold an RSA public key")
    numbers = key.public_numbers()
    return RSAPublicKey(numbers.n, numbers.e)
