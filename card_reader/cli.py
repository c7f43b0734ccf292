"""`ippyo card …`: test PKI, card images, and the virtual card in the virtual reader.

Card images hold private keys and PINs: they exist only for TEST CARDS.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from cryptography.hazmat.primitives.serialization import Encoding

from card_reader.testpki import WARNING, CertificateAuthority, Resident, make_card


def _pid_file(reader: int) -> Path:
    base = Path(os.environ.get("IPPYO_RUN_DIR", tempfile.gettempdir()))
    return base / f"ippyo-virtual-card-{reader}.pid"


@click.group()
def card() -> None:
    """Test PKI and the virtual My Number card / テスト用PKIと仮想マイナンバーカード."""


@card.command("ca")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True)
@click.option(
    "--name",
    default=None,
    help="Organisational unit of the CA's DN (default: J-LIS's 'JPKI for digital signature').",
)
@click.option("--generation", type=int, default=None, help="A label such as 2023.")
@click.option(
    "--kind",
    type=click.Choice(["signature", "authentication"]),
    default="signature",
    show_default=True,
)
def make_ca(directory: Path, name: str | None, generation: int | None, kind: str) -> None:
    """Create a J-LIS-profile CA (ca.pem, ca-key.pem); a new key each time."""
    CertificateAuthority.create(name, generation=generation, kind=kind).save(directory)
    click.echo(f"CA written to {directory}/ca.pem (key: ca-key.pem, mode 0600)")


@card.command("voter")
@click.option(
    "--ca", "ca_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option("--name", required=True, help="Name as on the resident register (UTF-8).")
@click.option("--birth", required=True, help="Date of birth, YYYY-MM-DD.")
@click.option("--gender", type=click.Choice(["male", "female", "unspecified"]), required=True)
@click.option("--address", required=True)
@click.option("--pin", default="ABC123", show_default=True, help="Signature PIN (6–16 A–Z/0–9).")
@click.option("--days", default=1825, show_default=True, help="Validity of the certificate.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Card image (JSON).")
def make_voter(
    ca_dir: Path, name: str, birth: str, gender: str, address: str, pin: str, days: int, out: Path
) -> None:
    """Mint a voter's signature certificate and write a TEST card image."""
    ca = CertificateAuthority.load(ca_dir)
    resident = Resident(name, gender, dt.date.fromisoformat(birth), address)
    voter = make_card(ca, resident, sign_pin=pin.upper(), days=days)
    voter.save(out)
    cert = out.with_suffix(".cert.pem")
    cert.write_bytes(voter.sign_certificate.public_bytes(Encoding.PEM))
    serial = voter.sign_certificate.serial_number
    click.echo(f"{WARNING}\ncard image {out}; certificate {cert}; serial {serial}")


@card.command("crl")
@click.option(
    "--ca", "ca_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option("--revoke", multiple=True, type=int, help="Serial number to revoke (repeatable).")
@click.option("--hours", default=24, show_default=True, help="Hours until nextUpdate.")
@click.option("--out", type=click.Path(path_type=Path), required=True)
def make_crl(ca_dir: Path, revoke: tuple[int, ...], hours: int, out: Path) -> None:
    """Write a CRL (DER) that revokes the given serials."""
    ca = CertificateAuthority.load(ca_dir)
    now = dt.datetime.now(dt.UTC)
    crl = ca.crl(list(revoke), this_update=now, next_update=now + dt.timedelta(hours=hours))
    out.write_bytes(crl.public_bytes(Encoding.DER))
    click.echo(f"CRL with {len(revoke)} revoked certificate(s) written to {out}")


@card.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reader", default=0, show_default=True, help="vpcd reader slot (0 or 1).")
def insert(image: Path, reader: int) -> None:
    """Put the TEST card IMAGE into the virtual reader (runs in the background)."""
    pid_file = _pid_file(reader)
    if pid_file.exists():
        raise click.ClickException(
            f"a card is already in reader {reader}: `ippyo card remove` first"
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "card_reader.serve", str(image.resolve()), str(reader)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(0.5)
    if proc.poll() is not None:
        raise click.ClickException(
            "the virtual card could not connect: is pcscd with vpcd running?"
        )
    pid_file.write_text(str(proc.pid))
    click.echo(f"card inserted in Virtual PCD 00 {reader:02d} (pid {proc.pid})")


@card.command()
@click.option("--reader", default=0, show_default=True)
def remove(reader: int) -> None:
    """Pull the virtual card out of the reader (stops exactly the process `insert` started)."""
    pid_file = _pid_file(reader)
    if not pid_file.exists():
        raise click.ClickException(f"no virtual card in reader {reader}")
    pid = int(pid_file.read_text())
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if b"card_reader.serve" in cmdline:
        os.kill(pid, signal.SIGTERM)
    pid_file.unlink()
    click.echo("card removed")


@card.command()
@click.option("--backend", type=click.Choice(["pcsc", "pkcs11"]), default="pcsc", show_default=True)
@click.option("--pin", prompt="署名用電子証明書の暗証番号 / signature PIN", hide_input=True)
def read(backend: str, pin: str) -> None:
    """Read and show the signature certificate's attributes (uses one PIN verification)."""
    from card_reader.abc import open_card
    from card_reader.certificate import parse_signature_certificate
    from card_reader.errors import CardError

    try:
        with open_card(backend) as jpki:
            jpki.verify_signature_pin(pin)
            attrs = parse_signature_certificate(jpki.read_signature_certificate())
    except CardError as exc:
        raise click.ClickException(str(exc)) from exc
    from card_reader.certificate import ERAS

    era = {code: name for code, name, _ in ERAS}.get(attrs.birth_era, "元号不明 / era unknown")
    click.echo(
        f"氏名 / name: {attrs.name}\n生年月日 / born: {attrs.date_of_birth} ({era})\n"
        f"性別 / gender: {attrs.gender}\n住所 / address: {attrs.address}\n"
        f"有効期限 / valid until: {attrs.not_after:%Y-%m-%d}"
    )
    if attrs.name_has_substitutes or attrs.address_has_substitutes:
        click.echo("代替文字あり / substitute characters in the name or address (help desk)")
