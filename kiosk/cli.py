"""``ippyo kiosk``: run the voting kiosk."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from kiosk.config import ConfigError, load_config


@click.group()
def kiosk() -> None:
    """投票端末 / the voting kiosk."""


@kiosk.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="kiosk.toml (see kiosk/config.py for every setting).",
)
@click.option(
    "--virtual-card",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A TEST card image, served through pcscd + vpcd (F9 pulls it and puts it back).",
)
def run(config_path: Path, virtual_card: Path | None) -> None:
    """Run the full-screen kiosk window."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(f"{config_path}: {exc} [{exc.code}]") from exc
    app = importlib.import_module("kiosk.ui.app")  # Qt loads only when the window runs
    try:
        code = app.run(config, virtual_card)
    except app.StartupError as exc:
        raise click.ClickException(f"cannot start: {exc}") from exc
    raise SystemExit(code)


@kiosk.command("check-config")
@click.argument("config_path", type=click.Path(dir_okay=False, path_type=Path))
def check_config(config_path: Path) -> None:
    """Check kiosk.toml without starting anything."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(f"{config_path}: {exc} [{exc.code}]") from exc
    click.echo(
        f"ok: kiosk {config.kiosk_id}, election {config.manifest.election_id_label}, "
        f"{len(config.rpc_urls)} RPC endpoint(s), card {config.card_backend}"
    )
