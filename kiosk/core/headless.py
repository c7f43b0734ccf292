"""A kiosk without a window: one voter's :class:`~kiosk.core.session.Session`, driven from the
command line, against real services (the card through PC/SC, the registrar over HTTP(S), the
chain over JSON-RPC with failover).

It exists for the crash test (a real process, really killed), load tests and operators who want
to check a kiosk's configuration end to end without a screen::

    python -m kiosk.core.headless --config kiosk.json --pin ABC123 --choose mayor=suzuki

Every screen the session shows is printed as one JSON line on stdout (``{"event": "view",
"state": ...}``: states, counts and the tracking code only — never a PIN, token or name); the
last line is ``{"event": "done", ...}``. Before the voter, the outbox is settled (a ballot left
by a crash is re-broadcast); after the voter, it is settled until empty.

Test-only kill point: with ``IPPYO_KIOSK_TEST_KILL=after_outbox_write`` in the environment the
process sends itself SIGKILL right after the signed cast transaction has been written and
fsynced to the outbox and before it is broadcast — the worst moment for a crash.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from card_reader.pcsc import PcscCard
from contracts.chain import Chain, ChainError, Sender
from contracts.client import BallotBox
from election.context import ElectionContext
from election.manifest import manifest_from_dict
from election.primitives.group import Point
from kiosk.core.healthreport import HealthReporter
from kiosk.core.outbox import Outbox, OutboxEntry
from kiosk.core.session import KioskCard, Services, Session, State, View
from kiosk.core.tokenflow import pinned_key_of
from registrar.client import RegistrarClient

KILL_ENV = "IPPYO_KIOSK_TEST_KILL"
KILL_AFTER_OUTBOX_WRITE = "after_outbox_write"

#: The screens where one voter's visit ends.
END_STATES = {
    State.RECEIPT,
    State.QUEUED,
    State.REFUSED,
    State.ALREADY_VOTED,
    State.HELP_DESK,
    State.OUT_OF_SERVICE,
}


class ConfigError(Exception):
    """The kiosk's configuration is unusable (named field, plain reason)."""


@dataclass(frozen=True)
class HeadlessConfig:
    """The kiosk's configuration (JSON). Paths are relative to the config file."""

    kiosk_id: str
    registrar_url: str
    registrar_secret_file: Path
    rpc: tuple[str, ...]
    contract: str
    sender_key_file: Path
    manifest: Path
    trustees: int
    quorum: int
    joint_public_key: str
    reader: str | None
    outbox: Path
    confirmations: int = 1
    cast_timeout: float = 60.0
    rpc_timeout: float = 5.0
    tally_url: str | None = None
    """Where health reports go (optional): ``{tally_url}/api/v1/kiosks/<id>/health``."""
    tally_secret_file: Path | None = None
    health_interval: float = 30.0
    registrar_ca: Path | None = None
    """The CA bundle of the registrar's TLS certificate (default: the system's)."""
    registrar_client_cert: tuple[Path, Path] | None = None
    """mTLS: this kiosk's client certificate and key (PEM); its common name is the kiosk id."""

    @staticmethod
    def load(path: Path) -> HeadlessConfig:
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("the configuration must be a JSON object")
        return HeadlessConfig.from_dict(data, path.parent)

    @staticmethod
    def from_dict(data: Mapping[str, Any], base: Path) -> HeadlessConfig:
        def need(key: str, kind: type) -> Any:
            if key not in data:
                raise ConfigError(f"missing field {key!r}")
            value = data[key]
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise ConfigError(f"field {key!r} must be a {kind.__name__}")
            return value

        rpc = need("rpc", list)
        if not rpc or not all(isinstance(u, str) for u in rpc):
            raise ConfigError("field 'rpc' must list at least one endpoint URL")
        tally_url = data.get("tally_url")
        tally_secret = data.get("tally_secret_file")
        if (tally_url is None) != (tally_secret is None):
            raise ConfigError("'tally_url' and 'tally_secret_file' go together")
        if tally_url is not None and not (
            isinstance(tally_url, str) and isinstance(tally_secret, str)
        ):
            raise ConfigError("fields 'tally_url' and 'tally_secret_file' must be strings")
        tls: dict[str, Path] = {}
        for key in ("registrar_ca", "registrar_client_cert", "registrar_client_key"):
            if key in data:
                if not isinstance(data[key], str):
                    raise ConfigError(f"field {key!r} must be a string")
                tls[key] = base / data[key]
        if ("registrar_client_cert" in tls) != ("registrar_client_key" in tls):
            raise ConfigError("'registrar_client_cert' and 'registrar_client_key' go together")
        reader = data.get("reader")
        if reader is not None and not isinstance(reader, str):
            raise ConfigError("field 'reader' must be a string")
        known = {
            "kiosk_id",
            "registrar_url",
            "registrar_secret_file",
            "rpc",
            "contract",
            "sender_key_file",
            "manifest",
            "trustees",
            "quorum",
            "joint_public_key",
            "reader",
            "outbox",
            "confirmations",
            "cast_timeout",
            "rpc_timeout",
            "tally_url",
            "tally_secret_file",
            "health_interval",
            "registrar_ca",
            "registrar_client_cert",
            "registrar_client_key",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown field(s): {', '.join(unknown)}")
        return HeadlessConfig(
            kiosk_id=need("kiosk_id", str),
            registrar_url=need("registrar_url", str),
            registrar_secret_file=base / need("registrar_secret_file", str),
            rpc=tuple(rpc),
            contract=need("contract", str),
            sender_key_file=base / need("sender_key_file", str),
            manifest=base / need("manifest", str),
            trustees=need("trustees", int),
            quorum=need("quorum", int),
            joint_public_key=need("joint_public_key", str),
            reader=reader,
            outbox=base / need("outbox", str),
            confirmations=_number(data, "confirmations", int, 1),
            cast_timeout=_number(data, "cast_timeout", float, 60.0),
            rpc_timeout=_number(data, "rpc_timeout", float, 5.0),
            tally_url=tally_url,
            tally_secret_file=None if tally_secret is None else base / tally_secret,
            health_interval=_number(data, "health_interval", float, 30.0),
            registrar_ca=tls.get("registrar_ca"),
            registrar_client_cert=(
                (tls["registrar_client_cert"], tls["registrar_client_key"])
                if "registrar_client_cert" in tls
                else None
            ),
        )


def _number(
    data: Mapping[str, Any], key: str, kind: type[float] | type[int], default: float
) -> Any:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"field {key!r} must be a positive number")
    if kind is int and not isinstance(value, int):
        raise ConfigError(f"field {key!r} must be a whole number")
    return kind(value)


class _KillAfterWrite(Outbox):
    """The test-only kill point: SIGKILL right after a new entry is durably written."""

    def put(self, entry: OutboxEntry) -> OutboxEntry:
        fresh = self.get(entry.token) is None
        stored = super().put(entry)
        if fresh:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return stored


def make_outbox(directory: Path) -> Outbox:
    if os.environ.get(KILL_ENV) == KILL_AFTER_OUTBOX_WRITE:
        return _KillAfterWrite(directory)
    return Outbox(directory)


def build_services(config: HeadlessConfig) -> Services:
    """Connect to the chain and check that the configured election is the one deployed there
    (the context's base hash must equal the contract's) before any voter is served."""
    chain = Chain.connect(list(config.rpc), timeout=config.rpc_timeout)
    box = BallotBox(chain, config.contract)
    try:
        manifest = manifest_from_dict(json.loads(config.manifest.read_text("utf-8")))
        joint = Point.from_bytes(bytes.fromhex(config.joint_public_key))
        key = config.sender_key_file.read_text("ascii").strip()
        secret = config.registrar_secret_file.read_text("utf-8").strip()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{type(exc).__name__}: {exc}") from exc
    context = ElectionContext(
        manifest,
        config.trustees,
        config.quorum,
        joint,
        pinned_key_of(*box.registrar_key()),
        chain.chain_id,
        bytes.fromhex(box.address[2:]),
        revote_allowed=box.revote_allowed(),
    )
    if context.base_hash != box.base_hash():
        raise ConfigError(
            "the configured election (manifest, trustees, joint key) is not the one the "
            f"contract {box.address} was deployed for: base hashes differ"
        )
    reader = config.reader

    def open_card() -> KioskCard:
        return PcscCard.connect(reader)

    return Services(
        kiosk_id=config.kiosk_id,
        context=context,
        open_card=open_card,
        registrar=RegistrarClient(
            config.registrar_url,
            config.kiosk_id,
            secret,
            verify=True if config.registrar_ca is None else str(config.registrar_ca),
            client_cert=(
                None
                if config.registrar_client_cert is None
                else (str(config.registrar_client_cert[0]), str(config.registrar_client_cert[1]))
            ),
        ),
        box=box,
        sender=Sender.from_key(chain, key),
        outbox=make_outbox(config.outbox),
        confirmations=config.confirmations,
        cast_timeout=config.cast_timeout,
    )


def _emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, ensure_ascii=False, sort_keys=True), flush=True)


def _view_fields(view: View) -> dict[str, Any]:
    out: dict[str, Any] = {"state": view.state.value}
    if view.tries_left is not None:
        out["tries_left"] = view.tries_left
    for name in ("pin_error", "card_error", "error", "tracking_code"):
        value = getattr(view, name)
        if value is not None:
            out[name] = value
    if view.help_desk is not None:
        out["help_desk"] = view.help_desk.value
    if view.refusal is not None:
        out["refusal"] = view.refusal.code
    if view.replaces_earlier:
        out["replaces_earlier"] = True
    if view.receipt is not None:
        out["tracking_code"] = view.receipt.tracking_code
        out["block"] = view.receipt.block_number
        out["tx_hash"] = view.receipt.tx_hash.hex()
    return out


def settle(session: Session, *, until_empty: bool, timeout: float) -> int:
    """Settle the outbox once (or until it is empty); returns the entries left."""
    outbox = session.services.outbox
    deadline = time.monotonic() + timeout
    outcomes: list[str] = []
    while True:
        outcomes.clear()
        session.recover(lambda settled: outcomes.extend(s.outcome for s in settled))
        if outcomes:
            _emit("outbox", outcomes=list(outcomes), depth=outbox.depth)
        if session.state is State.OUT_OF_SERVICE:
            return outbox.depth
        if not until_empty or outbox.depth == 0 or time.monotonic() > deadline:
            return outbox.depth
        time.sleep(0.5)


def vote(session: Session, pin: str, choices: Mapping[str, Sequence[str]]) -> View:
    """One voter: insert card → PIN → ballot → review → cast. Stops at the first end screen."""
    session.begin()
    session.card_inserted()
    if _at(session, State.PIN):
        session.enter_pin(pin)
    if _at(session, State.BALLOT):
        session.choose(choices)
        session.confirm()
        if _at(session, State.CAST_OR_CHECK):
            session.cast()
    return session.view


def _at(session: Session, state: State) -> bool:
    return session.state is state


def _parse_choices(items: Sequence[str]) -> dict[str, list[str]]:
    choices: dict[str, list[str]] = {}
    for item in items:
        contest, sep, options = item.partition("=")
        if not sep or not contest:
            raise ConfigError(f"--choose takes CONTEST=OPTION[,OPTION…], not {item!r}")
        choices[contest] = [o for o in options.split(",") if o]
    return choices


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.core.headless", description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--pin", required=True, help="the voter's signature PIN")
    parser.add_argument("--choose", action="append", default=[], metavar="CONTEST=OPTION[,OPTION…]")
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    try:
        choices = _parse_choices(args.choose)
        config = HeadlessConfig.load(args.config)
        services = build_services(config)
        reporter_secret = (
            None
            if config.tally_secret_file is None
            else config.tally_secret_file.read_text("utf-8").strip()
        )
    except (ConfigError, OSError) as exc:
        _emit("done", state="config_error", error=str(exc))
        return 2
    except ChainError as exc:
        _emit("done", state="chain_unavailable", error=str(exc)[:300])
        return 1
    session = Session(services)
    session.subscribe(lambda view: _emit("view", **_view_fields(view)))
    reporter = None
    if config.tally_url is not None and reporter_secret is not None:
        reporter = HealthReporter(
            session.health,
            config.tally_url,
            config.kiosk_id,
            reporter_secret,
            interval=config.health_interval,
        )
        reporter.start()
    try:
        return _serve_one_voter(session, args.pin, choices, args.drain_timeout)
    finally:
        if reporter is not None:
            outcome = reporter.report_once()  # the final counts
            reporter.stop()
            _emit("health", outcome=outcome.code)


def _serve_one_voter(
    session: Session, pin: str, choices: Mapping[str, Sequence[str]], drain_timeout: float
) -> int:
    services = session.services
    settle(session, until_empty=False, timeout=0)
    if session.state is State.OUT_OF_SERVICE:
        _emit("done", **_view_fields(session.view), outbox_depth=services.outbox.depth)
        return 1
    final = vote(session, pin, choices)
    left = settle(session, until_empty=True, timeout=drain_timeout)
    health = session.health()
    _emit(
        "done",
        **_view_fields(final),
        outbox_depth=left,
        ballots_cast=health.ballots_cast,
        wrong_pin=health.wrong_pin,
    )
    if final.state in END_STATES:
        session.finish()
    return 0 if final.state in (State.RECEIPT, State.ALREADY_VOTED, State.QUEUED) else 1


if __name__ == "__main__":
    raise SystemExit(main())
