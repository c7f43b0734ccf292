"""The core's errors: a flat set with meaningful names.

Verifiers return ``None`` or raise one of these; there is no boolean to forget. Every error
carries a human-readable reason that names what failed.
"""

from __future__ import annotations


class ElectionError(Exception):
    """Base class of every error raised by ``election``."""


class EncodingError(ElectionError):
    """Bytes or JSON that do not decode to a well-formed value (wrong length, bad point...)."""


class ManifestError(ElectionError):
    """An election manifest that breaks a rule; the message names the field."""


class InvalidProof(ElectionError):
    """A zero-knowledge proof that does not verify; the message names the proof."""


class InvalidSignature(ElectionError):
    """A signature (blind RSA, token binding, card) that does not verify."""


class InvalidBallot(ElectionError):
    """A ballot that is malformed or whose proofs fail; the message says where."""


class CeremonyError(ElectionError):
    """A key-ceremony message that is malformed or inconsistent."""


class InvalidShare(CeremonyError):
    """A trustee's share that does not match the dealer's public commitments."""


class DecryptionError(ElectionError):
    """Threshold decryption could not complete (too few trustees, value out of range...)."""


class InvalidRecord(ElectionError):
    """An election record that fails verification; ``report`` holds every check's outcome."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report
