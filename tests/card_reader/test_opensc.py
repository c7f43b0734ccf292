"""An outside check: OpenSC's own tools recognise the virtual card as a JPKI card."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from card_reader.certificate import parse_signature_certificate
from card_reader.pkcs11 import SIGNATURE_TOKEN, module_path
from card_reader.testpki import VoterCard
from card_reader.virtual_card import VpcdCard


def test_opensc_tool_names_the_jpki_driver(card: VpcdCard) -> None:
    result = subprocess.run(["opensc-tool", "-n"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "jpki"


def test_pkcs15_tool_dumps_the_jpki_objects(card: VpcdCard) -> None:
    result = subprocess.run(["pkcs15-tool", "-D"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "PKCS#15 Card [JPKI]" in out
    assert "Digital Signature PIN" in out and "Tries left     : 5" in out
    assert "Digital Signature Key" in out and "ModLength      : 2048" in out


def test_pkcs11_tool_signs_and_the_signature_verifies(
    card: VpcdCard, card_template: VoterCard, tmp_path: Path
) -> None:
    """OpenSC's own CLI logs in on the signature token, signs with the signature key, and reads
    the signature certificate; the signature verifies against that certificate."""
    module = module_path()
    token = ["--module", module, "--token-label", SIGNATURE_TOKEN, "--login", "--pin", "ABC123"]
    message = "一票 ippyo pkcs11-tool".encode()
    (tmp_path / "message").write_bytes(message)

    def tool(*args: str) -> None:
        result = subprocess.run(
            ["pkcs11-tool", *token, *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr + result.stdout

    tool(
        "--sign",
        "--mechanism",
        "SHA256-RSA-PKCS",
        "--id",
        "02",
        "--input-file",
        str(tmp_path / "message"),
        "--output-file",
        str(tmp_path / "sig"),
    )
    tool(
        "--read-object", "--type", "cert", "--id", "02", "--output-file", str(tmp_path / "cert.der")
    )
    der = (tmp_path / "cert.der").read_bytes()
    certificate = x509.load_der_x509_certificate(der)
    signature = (tmp_path / "sig").read_bytes()
    assert len(signature) == 256
    certificate.public_key().verify(  # type: ignore[union-attr]
        signature, message, padding.PKCS1v15(), hashes.SHA256()
    )
    assert der == card_template.sign_certificate.public_bytes(Encoding.DER)
    assert parse_signature_certificate(der).name == card_template.resident.name
    with pytest.raises(InvalidSignature):
        certificate.public_key().verify(  # type: ignore[union-attr]
            signature, message + b"!", padding.PKCS1v15(), hashes.SHA256()
        )
    assert card.applet.pins[0x001B].tries_left == 5
