"""``ippyo tally add-official`` and ``ippyo tally set-password``: accounts from the server's
shell. The password is read from a prompt (typed twice) or, with ``--password-stdin``, from the
first line of standard input — never from the command line, where other users could see it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tally_server.officials.accounts import AccountError
from tally_server.officials.models import ROLES

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML configuration file (default: $IPPYO_TALLY_CONFIG; see docs/tally.md).",
)
stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of a prompt.",
)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt(
        "パスワード / password", hide_input=True, confirmation_prompt=True, type=str
    )
    return value


def _run(config_path: Path | None, action: str, username: str, password: str, role: str) -> None:
    from tally_server.cli import _config
    from tally_server.db import make_engine, sessions, upgrade
    from tally_server.officials import accounts

    cfg = _config(config_path)
    upgrade(cfg.database_url)
    engine = make_engine(cfg.database_url)
    try:
        if action == "add":
            accounts.add_official(sessions(engine), username, password, role)
        else:
            accounts.set_password(sessions(engine), username, password)
    except AccountError as exc:
        raise click.ClickException(f"アカウントを変更できません / account refused: {exc}") from exc
    finally:
        engine.dispose()


@click.command("add-official")
@config_option
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@stdin_option
def add_official(config_path: Path | None, username: str, role: str, password_stdin: bool) -> None:
    """Create an official's account (viewer < operator < admin)."""
    _run(config_path, "add", username, _read_password(password_stdin), role)
    click.echo(f"official {username} added ({role})")


@click.command("set-password")
@config_option
@click.argument("username")
@stdin_option
def set_password(config_path: Path | None, username: str, password_stdin: bool) -> None:
    """Change an official's password."""
    _run(config_path, "set", username, _read_password(password_stdin), "")
    click.echo(f"password of {username} changed")
