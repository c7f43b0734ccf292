"""Is this certificate's holder a voter of this election? Path, validity, revocation, policy,
and the election's rules (age on election day, municipality, electoral roll).

Path validation uses ``cryptography``'s X.509 verifier (a kept library) with an extension
policy for the JPKI profile (its critical certificatePolicies extension). Revocation comes from
the configured CRL files, re-read when they change; a missing or expired CRL refuses clearly
rather than letting anyone through.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from card_reader.certificate import (
    SIGNATURE_POLICIES,
    JPKIAttributes,
    parse_signature_certificate,
)
from card_reader.errors import CertificateError
from registrar.refusals import Refusal

DEFAULT_POLICIES: tuple[str, ...] = tuple(sorted(SIGNATURE_POLICIES))
"""J-LIS's signature certificate policy (…1.1.20) and its test environment's (…1.0.20)."""


def person_key(attrs: JPKIAttributes) -> str:
    """The ledger's key for a person: a hash of the normalised name, date of birth and gender.

    The certificate changes on renewal, the person does not. Limits (docs/registrar.md): two
    people with the same name, birthday and gender collide; a change of name makes a new key.
    """
    return person_key_from_fields(attrs.name, attrs.date_of_birth, attrs.gender)


def person_key_from_fields(name: str, born: dt.date, gender: str) -> str:
    clean = unicodedata.normalize("NFKC", name).replace(" ", "").replace("\u3000", "")
    data = f"{clean}|{born.isoformat()}|{gender}".encode()
    return hashlib.sha256(b"ippyo/person\x00" + data).hexdigest()


def normalize_address(address: str) -> str:
    return unicodedata.normalize("NFKC", address).replace(" ", "").replace("\u3000", "")


def age_on(born: dt.date, day: dt.date) -> int:
    # Japanese law: one becomes a year older at the end of the day before the birthday; a
    # voter born on 7 December turns 18 for an election on 6 December.
    day_after = day + dt.timedelta(days=1)
    return day_after.year - born.year - ((day_after.month, day_after.day) < (born.month, born.day))


class TrustStore:
    """The JPKI signature CA certificates and their CRLs, from files."""

    def __init__(
        self,
        ca_paths: list[Path],
        crl_paths: list[Path],
        policies: tuple[str, ...] | list[str] = DEFAULT_POLICIES,
    ) -> None:
        self.ca_paths, self.crl_paths = ca_paths, crl_paths
        self.policies = frozenset(policies)
        self._stamp: tuple[float, ...] = ()
        self.cas: list[x509.Certificate] = []
        self.crls: list[x509.CertificateRevocationList] = []
        self.reload()

    def reload(self) -> None:
        """Re-read the files if any changed (CRLs are refreshed by the operator's job)."""
        stamp = tuple(
            p.stat().st_mtime if p.exists() else -1.0 for p in [*self.ca_paths, *self.crl_paths]
        )
        if stamp == self._stamp:
            return
        cas: list[x509.Certificate] = []
        for path in self.ca_paths:
            cas += x509.load_pem_x509_certificates(path.read_bytes())
        crls_by_key: dict[bytes, list[x509.CertificateRevocationList]] = {}
        crls = []
        for path in self.crl_paths:
            if path.exists():
                data = path.read_bytes()
                try:
                    crl = (
                        x509.load_pem_x509_crl(data)
                        if data.startswith(b"-----")
                        else x509.load_der_x509_crl(data)
                    )
                except ValueError:
                    continue  # an unreadable CRL counts as none: crl_missing, never a pass
                # A CRL belongs to the CA whose key signed it (J-LIS's CA generations share
                # one DN): checked once per load, not per request.
                issuer = self._crl_issuer(crl, cas)
                if issuer is not None:
                    crls_by_key.setdefault(key_id(issuer), []).append(crl)
                    crls.append(crl)
        self.cas, self.crls, self._crls_by_key, self._stamp = cas, crls, crls_by_key, stamp
        ee_policy = ExtensionPolicy.permit_all().may_be_present(
            x509.CertificatePolicies, Criticality.AGNOSTIC, None
        )
        self._builder = (
            PolicyBuilder()
            .store(Store(cas))
            .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
        )

    @staticmethod
    def _crl_issuer(
        crl: x509.CertificateRevocationList, cas: list[x509.Certificate]
    ) -> x509.Certificate | None:
        wanted = authority_key_id(crl.extensions)
        for ca in cas:
            if (wanted is None or wanted == key_id(ca)) and crl.issuer == ca.subject:
                try:
                    if crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                        return ca
                except (TypeError, ValueError):
                    continue
        return None

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate:
        """The trusted CA that signed ``cert``, found by key: the authority key identifier
        names it, and its key must verify the certificate's signature. Never by DN alone."""
        same_dn = [ca for ca in self.cas if ca.subject == cert.issuer]
        if not same_dn:
            raise Refusal("unknown_ca", cert.issuer.rfc4514_string())
        try:
            wanted = authority_key_id(cert.extensions)
        except ValueError as exc:
            raise Refusal("bad_certificate", f"extensions: {exc}") from exc
        for ca in same_dn:
            if wanted is not None and wanted != key_id(ca):
                continue
            try:
                cert.verify_directly_issued_by(ca)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return ca
        raise Refusal("bad_chain", "no trusted CA key verifies the certificate")

    def validate(self, der: bytes, at: dt.datetime) -> tuple[JPKIAttributes, x509.Certificate]:
        """Path, validity, policy and revocation; raises :class:`Refusal` with the reason."""
        self.reload()
        try:
            cert = x509.load_der_x509_certificate(der)
            cert.issuer  # noqa: B018 - lazily parsed: a malformed name raises here
            cert.extensions  # noqa: B018
        except ValueError as exc:
            raise Refusal("bad_certificate", str(exc)[:200]) from exc
        issuer = self.issuer_of(cert)
        if at < cert.not_valid_before_utc:
            raise Refusal("not_yet_valid", f"valid from {cert.not_valid_before_utc:%Y-%m-%d}")
        if at > cert.not_valid_after_utc:
            raise Refusal("expired", f"expired {cert.not_valid_after_utc:%Y-%m-%d}")
        try:
            self._builder.time(at).build_client_verifier().verify(cert, [])
        except VerificationError as exc:
            raise Refusal("bad_chain", str(exc)[:200]) from exc
        try:
            attrs = parse_signature_certificate(der)
        except CertificateError as exc:
            raise Refusal("bad_certificate", exc.detail) from exc
        if not self.policies.intersection(attrs.policy_oids):
            raise Refusal("wrong_policy", ",".join(attrs.policy_oids) or "no policy")
        crls = self._crls_by_key.get(key_id(issuer), [])  # signatures checked at load
        if not crls:
            raise Refusal(
                "crl_missing",
                f"no valid CRL for {issuer.subject.rfc4514_string()} key {key_id(issuer).hex()}",
            )
        crl = max(crls, key=lambda c: c.last_update_utc)
        if crl.next_update_utc is None or at > crl.next_update_utc:
            raise Refusal("crl_stale", f"nextUpdate {crl.next_update_utc}")
        if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            raise Refusal("certificate_revoked", f"serial {cert.serial_number}")
        return attrs, cert


def key_id(ca: x509.Certificate) -> bytes:
    """A CA's key identifier: its subjectKeyIdentifier, else the RFC 5280 SHA-1 of its key."""
    try:
        return ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest


def authority_key_id(extensions: x509.Extensions) -> bytes | None:
    try:
        aki = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None
    return aki.key_identifier


def verify_card_signature(cert: x509.Certificate, digest: bytes, signature: bytes) -> None:
    """The card's PKCS#1 v1.5 signature over DigestInfo(SHA-256, digest)."""
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Refusal("bad_card_signature", "the certificate's key is not RSA")
    try:
        key.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    except (InvalidSignature, TypeError, ValueError) as exc:
        raise Refusal("bad_card_signature") from exc


@dataclass(frozen=True)
class ElectionRules:
    election_day: dt.date
    minimum_age: int
    municipality: str
    """Address prefix of the municipality, e.g. 茨城県つくば市."""
    roll_required: bool = False

    def check_age(self, attrs: JPKIAttributes) -> None:
        born: object = attrs.date_of_birth
        if not isinstance(born, dt.date):  # the parser gave no date (e.g. era "unknown")
            raise Refusal("bad_certificate", "no date of birth")
        age = age_on(born, self.election_day)
        if age < self.minimum_age:
            raise Refusal("under_age", f"{age} on {self.election_day}")

    def in_municipality(self, address: str) -> bool:
        return normalize_address(address).startswith(normalize_address(self.municipality))
