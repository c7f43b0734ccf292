"""``ippyo tally``: serve the tally server, run the indexer, migrate the database."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import FrameType

import click

from tally_server.config import ConfigError, TallyConfig, load_config


def _config(path: Path | None) -> TallyConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise click.ClickException(f"設定が正しくありません / bad configuration: {exc}") from exc


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML configuration file (default: $IPPYO_TALLY_CONFIG; see docs/tally.md).",
)


@click.group()
def tally() -> None:
    """集計サーバー / the tally server: observer pages, JSON API, indexer."""


@tally.command()
@config_option
def migrate(config_path: Path | None) -> None:
    """Create or upgrade the database schema (Alembic, to the latest revision)."""
    from tally_server.db import upgrade

    cfg = _config(config_path)
    upgrade(cfg.database_url)
    click.echo("database is at the latest revision")


@tally.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8300, show_default=True, type=click.IntRange(0, 65535))
def serve(config_path: Path | None, host: str, port: int) -> None:
    """Serve the observer pages, the API and the officials' area (cheroot)."""
    from tally_server.app import create_app
    from tally_server.db import upgrade
    from tally_server.server import make_server

    cfg = _config(config_path)
    upgrade(cfg.database_url)
    server = make_server(create_app(cfg), cfg, host, port)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # cheroot's safe_start stops cleanly on it

    signal.signal(signal.SIGTERM, stop)
    scheme = "https" if cfg.tls_cert else "http"
    click.echo(f"ippyo tally serving on {scheme}://{host}:{server.bind_addr[1]}", err=True)
    try:
        server.safe_start()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.stop()


@tally.command()
@config_option
@click.option("--once", is_flag=True, help="Stop when caught up instead of following the chain.")
def index(config_path: Path | None, once: bool) -> None:
    """Follow the BallotBox on the configured nodes into the database (its own process)."""
    import logging

    from contracts.chain import Chain, ChainError
    from election.errors import ElectionError
    from tally_server.db import make_engine, sessions, upgrade
    from tally_server.election_setup import load_setup
    from tally_server.indexer import Indexer, IndexerError, ParallelJudge, counts

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    cfg = _config(config_path)
    if not cfg.rpc_urls:
        raise click.ClickException("設定に rpc_urls がありません / rpc_urls is not configured")
    try:
        setup = load_setup(cfg.require_election_file())
    except (ConfigError, ElectionError) as exc:
        raise click.ClickException(f"選挙の設定を読めません / bad election setup: {exc}") from exc
    upgrade(cfg.database_url)
    engine = make_engine(cfg.database_url)
    parallel = ParallelJudge(setup, cfg.index_workers) if cfg.index_workers > 1 else None
    try:
        chain = Chain.connect(
            cfg.rpc_urls, timeout=cfg.rpc_timeout_seconds, confirmations=cfg.confirmations
        )
        indexer = Indexer(
            setup,
            chain,
            sessions(engine),
            confirmations=cfg.confirmations,
            batch_blocks=cfg.index_batch_blocks,
            judge_many=parallel,
        )
        indexer.check_contract()
    except (ChainError, IndexerError) as exc:
        raise click.ClickException(f"索引を始められません / cannot start indexing: {exc}") from exc
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        indexer.run(poll_seconds=cfg.index_poll_seconds, stop=lambda: stopping, once=once)
    finally:
        if parallel is not None:
            parallel.close()
    click.echo(json.dumps(counts(sessions(engine))))
    engine.dispose()


# The officials' account commands (tally_server/officials/cli.py).
from tally_server.officials.cli import add_official, set_password  # noqa: E402

tally.add_command(add_official)
tally.add_command(set_password)
