"""The election's lifecycle from the dashboard: open and close the BallotBox (and read its
phase), signed by the election admin's key from an encrypted keystore (eth-account's keystore
JSON, ``admin_keystore``). The password is typed in the form for each transaction, used to
decrypt the key for that one transaction and never stored."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from contracts.chain import Chain, ChainError, Sender
from contracts.client import BallotBox, ContractRevert, Phase
from election.errors import ElectionError
from tally_server.config import ConfigError, TallyConfig
from tally_server.election_setup import ElectionSetup, load_setup
from tally_server.errors import Refusal

PHASE_NAMES: dict[Phase, tuple[str, str]] = {
    Phase.SETUP: ("準備中（投票開始前）", "set up, not yet open"),
    Phase.OPEN: ("投票受付中", "open for voting"),
    Phase.CLOSED: ("投票終了", "closed"),
    Phase.TALLIED: ("開票結果公表済み", "tallied, result published"),
}
MAX_KEYSTORE = 64 * 1024


def election_setup(config: TallyConfig) -> ElectionSetup:
    try:
        return load_setup(config.require_election_file())
    except (ConfigError, ElectionError) as exc:
        raise Refusal("election_not_configured", str(exc)) from exc


def connect(config: TallyConfig, *, timeout: float | None = None) -> Chain:
    if not config.rpc_urls:
        raise Refusal("chain_unavailable", "no rpc_urls are configured")
    try:
        return Chain.connect(config.rpc_urls, timeout=timeout or config.rpc_timeout_seconds)
    except ChainError as exc:
        raise Refusal("chain_unavailable", str(exc)) from exc


def admin_account(config: TallyConfig, password: str) -> LocalAccount:
    """Decrypt the admin's key with the typed password (only for this request)."""
    if config.admin_keystore is None:
        raise Refusal("keystore_not_configured")
    if not password:
        raise Refusal("bad_form", "the keystore password is required")
    try:
        raw = Path(config.admin_keystore).read_bytes()[: MAX_KEYSTORE + 1]
        if len(raw) > MAX_KEYSTORE:
            raise ValueError("larger than a keystore")
        keystore: Any = json.loads(raw)
        if not isinstance(keystore, dict) or "crypto" not in {k.lower() for k in keystore}:
            raise ValueError("not an encrypted keystore")
    except (OSError, ValueError) as exc:
        raise Refusal("bad_keystore", f"{type(exc).__name__}: {exc}") from exc
    try:
        key = Account.decrypt(keystore, password)
    except ValueError as exc:
        # eth-account says "MAC mismatch" for a wrong password.
        if "mac" in str(exc).lower():
            raise Refusal("bad_keystore_password") from exc
        raise Refusal("bad_keystore", str(exc)) from exc
    account: LocalAccount = Account.from_key(key)
    return account


def read_phase(config: TallyConfig) -> Phase | None:
    """The BallotBox's phase as the chain says it, or ``None`` when it cannot be read."""
    try:
        setup = election_setup(config)
        chain = connect(config, timeout=min(config.rpc_timeout_seconds, 3.0))
        return BallotBox(chain, setup.contract_hex).phase()
    except (Refusal, ChainError, ValueError):
        return None


PHASE_CACHE = "officials_phase"
PHASE_SECONDS = 5.0


def cached_phase(cache: dict[str, Any], config: TallyConfig) -> Phase | None:
    """:func:`read_phase`, asked at most every few seconds (pages must not wait on a node that
    is down at every load); a lifecycle action clears it."""
    hit = cache.get(PHASE_CACHE)
    now = time.monotonic()
    if isinstance(hit, tuple) and now - hit[0] < PHASE_SECONDS:
        cached: Phase | None = hit[1]
        return cached
    phase = read_phase(config)
    cache[PHASE_CACHE] = (now, phase)
    return phase


def transact(config: TallyConfig, action: str, password: str) -> str:
    """``open`` or ``close`` the election; returns the admin address that signed it."""
    if action not in ("open", "close"):
        raise Refusal("bad_form", f"unknown action {action!r}")
    setup = election_setup(config)
    account = admin_account(config, password)
    chain = connect(config)
    box = BallotBox(chain, setup.contract_hex)
    admin = Sender(chain, account)
    try:
        if action == "open":
            box.open(admin)
        else:
            box.close(admin)
    except ContractRevert as exc:
        raise Refusal("chain_refused", f"{exc.name}: {exc.message_ja} / {exc.message_en}") from exc
    except ChainError as exc:
        raise Refusal("chain_unavailable", str(exc)) from exc
    return admin.address
