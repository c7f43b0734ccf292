"""`ippyo registrar serve|keygen|import-roll|public-key`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from election.primitives import blind_rsa


@click.group()
def registrar() -> None:
    """Eligibility and blind token issuance / 選挙人確認と投票トークンの発行."""


@registrar.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="TOML configuration (see docs/registrar.md).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8710, show_default=True)
def serve(config_path: Path, host: str, port: int) -> None:
    """Serve the kiosk API under cheroot (TLS and kiosk client certificates from the
    configuration's TLS_CERT, TLS_KEY, TLS_CLIENT_CA)."""
    from registrar.app import create_app
    from registrar.server import serve_app

    os.environ["IPPYO_REGISTRAR_CONFIG"] = str(config_path)
    app = create_app()
    scheme = "https" if app.config.get("TLS_CERT") else "http"
    mtls = " (kiosk client certificates required)" if app.config.get("TLS_CLIENT_CA") else ""
    click.echo(
        f"registrar for election {app.config['ELECTION_ID'][:16]}… on {scheme}://{host}:{port}"
        + mtls
    )
    serve_app(app, host, port)


@registrar.command()
@click.option(
    "--keyfile", type=click.Path(path_type=Path), help="Write a PEM key file (embedded default)."
)
@click.option("--pkcs11-module", help="PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so).")
@click.option("--token-label")
@click.option("--pin", envvar="IPPYO_PKCS11_PIN", help="Token user PIN (or $IPPYO_PKCS11_PIN).")
@click.option("--key-label", default="ippyo-registrar", show_default=True)
@click.option("--bits", default=2048, show_default=True)
@click.option(
    "--public-out", type=click.Path(path_type=Path), help="Also write the public key (PEM)."
)
def keygen(
    keyfile: Path | None,
    pkcs11_module: str | None,
    token_label: str | None,
    pin: str | None,
    key_label: str,
    bits: int,
    public_out: Path | None,
) -> None:
    """Generate the registrar's RSA key: in a key file, or inside a PKCS#11 token."""
    from registrar.signer import KeyFileSigner, Pkcs11Signer

    if keyfile and pkcs11_module:
        raise click.UsageError("choose --keyfile or --pkcs11-module, not both")
    if keyfile:
        if keyfile.exists():
            raise click.ClickException(f"{keyfile} exists: refusing to overwrite a registrar key")
        public = KeyFileSigner.generate(keyfile, bits)
    elif pkcs11_module and token_label and pin:
        public = Pkcs11Signer.generate(pkcs11_module, token_label, pin, key_label, bits)
    else:
        raise click.UsageError("give --keyfile PATH, or --pkcs11-module, --token-label and --pin")
    _show(public, public_out)


@registrar.command("public-key")
@click.option("--keyfile", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--public-out", type=click.Path(path_type=Path))
def public_key(keyfile: Path, public_out: Path | None) -> None:
    """Export the public key (PEM, and n/e for the contract)."""
    _show(blind_rsa.private_key_from_pem(keyfile.read_bytes()).public_key, public_out)


def _show(public: blind_rsa.RSAPublicKey, out: Path | None) -> None:
    if out:
        out.write_bytes(blind_rsa.public_key_to_pem(public))
        click.echo(f"public key written to {out}")
    click.echo(f"n = {public.n:x}\ne = {public.e}\nbits = {public.bits}")


@registrar.command("import-roll")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
)
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_roll(config_path: Path, csv_file: Path) -> None:
    """Import the electoral roll (CSV: name,date_of_birth,gender,address)."""
    from registrar.app import create_app

    os.environ["IPPYO_REGISTRAR_CONFIG"] = str(config_path)
    app = create_app()
    try:
        count = app.extensions["ippyo_registrar"]["ledger"].import_roll(csv_file.read_text("utf-8"))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{count} voters imported into the roll")
