"""The trustee exchange's files and rules: what is accepted, in which order, stored how.

One directory per election under ``TRUSTEE_DIR``, named by the election id (hex)::

    election.json           the officials' setup: manifest, n, k, each trustee's Ed25519 key
    announcement-<i>.json   trustee i's signed upload (the whole envelope, signature included)
    shares-<i>.json         trustee i's encrypted shares for every other trustee
    complaints-<i>.json     trustee i's complaints (an empty list: no complaint)
    ceremony.json           derived once all n complaint lists are in: QUAL, K, every X_j
    tally.json              the officials' encrypted tally and the context it was made in
    decryption-<i>.json     trustee i's decryption share with its proofs
    result.json             derived once k decryption shares verify: the counts

Every upload is checked completely before anything is written; a file is written once
(temporary file, fsync, then a hard link to its final name: never overwritten, never half
written), under a per-election lock. Refusals are :class:`Refusal` with a stable code.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from election.context import ElectionContext
from election.errors import CeremonyError, ElectionError, EncodingError
from election.keyceremony import (
    Announcement,
    Complaint,
    EncryptedShare,
    ceremony_hash,
    complaint_upheld,
    verify_announcement,
    verify_transcript,
)
from election.manifest import Manifest, canonical_json, manifest_from_dict
from election.primitives.blind_rsa import RSAPublicKey
from election.primitives.group import Point
from election.record import codec
from election.tally import DecryptionShare, EncryptedTally, combine, verify_decryption_share
from tally_server.trustees import wire

SETUP_FORMAT = "ippyo/trustee-election"
TALLY_FORMAT = "ippyo/trustee-tally"
_ELECTION = re.compile(r"[0-9a-f]{64}")

# code: (HTTP status, Japanese, English)
REASONS: dict[str, tuple[int, str, str]] = {
    "bad_upload": (400, "アップロードの形式が正しくありません", "the upload is malformed"),
    "wrong_election": (
        400,
        "この選挙へのアップロードではありません",
        "the upload is signed for another election",
    ),
    "unknown_election": (404, "この選挙は登録されていません", "no such election"),
    "bad_signature": (
        403,
        "この管理者の登録済みの鍵による署名ではありません",
        "not signed with this trustee's key registered for the election",
    ),
    "wrong_trustee": (
        403,
        "他の管理者の分はアップロードできません",
        "the upload's content belongs to another trustee",
    ),
    "already_uploaded": (
        409,
        "この管理者の分はすでに受け付けています（上書き不可）",
        "this trustee already uploaded this step (files are never overwritten)",
    ),
    "wrong_phase": (409, "この段階ではまだ受け付けられません", "not accepted at this stage"),
    "wrong_tally": (
        409,
        "この集計結果に対する部分復号ではありません",
        "the decryption share is for another tally",
    ),
    "bad_proof": (422, "証明が正しくありません", "a proof does not verify"),
    "duplicate_key": (
        422,
        "他の管理者と同じ暗号鍵です",
        "another trustee already announced this share encryption key",
    ),
    "bad_shares": (
        422,
        "分散鍵の送付先が正しくありません",
        "exactly one share for every other trustee is due",
    ),
}


class Refusal(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail
        self.status, self.message_ja, self.message_en = REASONS[code]

    def to_json(self) -> dict[str, Any]:
        body = {"error": self.code, "message_ja": self.message_ja, "message_en": self.message_en}
        if self.detail:
            body["detail"] = self.detail
        return body


# --- files --------------------------------------------------------------------------------------
def write_once(path: Path, data: bytes) -> bool:
    """Write ``path`` atomically unless it exists; False when it already existed."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    with open(tmp, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


def _json_file(path: Path) -> Any:
    return json.loads(path.read_bytes())


def trustee_dir(config: Any) -> Path:
    """``TRUSTEE_DIR`` from a Flask config (a mapping) or the tally server's typed config."""
    if isinstance(config, Mapping):
        value = config.get("TRUSTEE_DIR")
        if value is None and "TALLY_CONFIG" in config:
            value = getattr(config["TALLY_CONFIG"], "trustee_dir", None)
    else:
        value = getattr(config, "trustee_dir", None)
    if value is None:
        raise KeyError("TRUSTEE_DIR is not configured")
    return Path(value)


# --- setup (officials, on the server's own disk) ------------------------------------------------
def setup_election(
    root: Path, manifest: Manifest, trustees: int, quorum: int, keys: Mapping[int, bytes]
) -> Path:
    """Register an election and its trustees' Ed25519 public keys (index → 32 bytes)."""
    if sorted(keys) != list(range(1, trustees + 1)):
        raise ValueError(f"one key for each trustee 1..{trustees} is due")
    if not 1 <= quorum <= trustees:
        raise ValueError("the quorum must be between 1 and the number of trustees")
    if any(len(k) != 32 for k in keys.values()):
        raise ValueError("an Ed25519 public key is 32 bytes")
    directory = root / manifest.election_id.hex()
    directory.mkdir(parents=True, exist_ok=True)
    setup = {
        "format": SETUP_FORMAT,
        "version": 1,
        "manifest": manifest.to_dict(),
        "election_id": manifest.election_id.hex(),
        "trustees": trustees,
        "quorum": quorum,
        "keys": {str(i): keys[i].hex() for i in sorted(keys)},
    }
    if not write_once(directory / "election.json", canonical_json(setup) + b"\n"):
        raise FileExistsError(f"{directory / 'election.json'} exists already")
    return directory


@dataclass(frozen=True)
class TallyInput:
    context: ElectionContext
    tally: EncryptedTally

    def to_dict(self) -> dict[str, Any]:
        ctx = self.context
        return {
            "format": TALLY_FORMAT,
            "version": 1,
            "registrar_key": {"n": f"{ctx.registrar_key.n:x}", "e": ctx.registrar_key.e},
            "chain_id": ctx.chain_id,
            "contract": "0x" + ctx.contract_address.hex(),
            "revote_allowed": ctx.revote_allowed,
            "base_hash": ctx.base_hash.hex(),
            "tally": wire.tally_to_dict(self.tally),
        }


def publish_tally(root: Path, election_id: bytes, tally_input: TallyInput) -> None:
    """The officials hand the encrypted tally to the trustees (after the ceremony)."""
    election = ElectionFiles(root / election_id.hex())
    with election.locked():
        state = election.load()
        if state.joint_public_key is None:
            raise Refusal("wrong_phase", "the key ceremony is not complete")
        if tally_input.context.joint_public_key != state.joint_public_key:
            raise Refusal("wrong_phase", "the tally's context has another joint key")
        data = canonical_json(tally_input.to_dict()) + b"\n"
        if not write_once(election.dir / "tally.json", data):
            raise Refusal("already_uploaded", "tally.json exists")


# --- state ---------------------------------------------------------------------------------------
@dataclass
class State:
    election_id: bytes
    manifest: Manifest
    trustees: int
    quorum: int
    keys: dict[int, bytes]
    announcements: dict[int, Announcement]
    shares: dict[int, list[EncryptedShare]]
    complaints: dict[int, list[Complaint]]
    qualified: tuple[int, ...] | None
    joint_public_key: Point | None
    public_shares: dict[int, Point]
    ceremony_error: str | None
    tally: TallyInput | None
    decryptions: dict[int, DecryptionShare]
    result: Any

    @property
    def phase(self) -> str:
        n = self.trustees
        if len(self.announcements) < n:
            return "announce"
        if len(self.shares) < n:
            return "deal"
        if len(self.complaints) < n:
            return "complain"
        if self.ceremony_error is not None:
            return "ceremony_failed"
        if self.tally is None:
            return "awaiting_tally"
        if self.result is None:
            return "decrypt"
        return "done"


class ElectionFiles:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        if not (self.dir / "election.json").is_file():
            raise Refusal("unknown_election", self.dir.name)
        with open(self.dir / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _bodies(self, kind: str) -> dict[int, dict[str, Any]]:
        out = {}
        for path in self.dir.glob(f"{kind}-*.json"):
            index = int(path.stem.rsplit("-", 1)[1])
            out[index] = _json_file(path)["body"]
        return out

    def load(self) -> State:
        setup = _json_file(self.dir / "election.json")
        manifest = manifest_from_dict(setup["manifest"])
        n, k = int(setup["trustees"]), int(setup["quorum"])
        announcements = {
            i: wire.ceremony_from_dict(
                {"announcements": [b["announcement"]], "shares": [], "complaints": []}, n, k
            )[0][0]
            for i, b in self._bodies("announcement").items()
        }
        shares = {
            i: list(
                wire.ceremony_from_dict(
                    {"announcements": [], "shares": b["shares"], "complaints": []}, n, k
                )[1]
            )
            for i, b in self._bodies("shares").items()
        }
        complaints = {
            i: list(
                wire.ceremony_from_dict(
                    {"announcements": [], "shares": [], "complaints": b["complaints"]}, n, k
                )[2]
            )
            for i, b in self._bodies("complaints").items()
        }
        qualified: tuple[int, ...] | None = None
        joint: Point | None = None
        public_shares: dict[int, Point] = {}
        error: str | None = None
        if (self.dir / "ceremony.json").is_file():
            cer = _json_file(self.dir / "ceremony.json")
            error = cer.get("error")
            if error is None:
                qualified = tuple(cer["qualified"])
                joint = Point.from_bytes(bytes.fromhex(cer["joint_public_key"]))
                public_shares = {
                    int(j): Point.from_bytes(bytes.fromhex(x))
                    for j, x in cer["public_shares"].items()
                }
        tally: TallyInput | None = None
        if (self.dir / "tally.json").is_file() and joint is not None:
            t = _json_file(self.dir / "tally.json")
            ctx = ElectionContext(
                manifest,
                n,
                k,
                joint,
                RSAPublicKey(int(t["registrar_key"]["n"], 16), int(t["registrar_key"]["e"])),
                int(t["chain_id"]),
                bytes.fromhex(t["contract"][2:]),
                bool(t["revote_allowed"]),
            )
            tally = TallyInput(ctx, wire.tally_from_dict(t["tally"], manifest))
        decryptions = {
            i: wire.decryption_from_dict(b["share"], manifest, n)
            for i, b in self._bodies("decryption").items()
        }
        result = None
        if (self.dir / "result.json").is_file():
            result = _json_file(self.dir / "result.json")
        return State(
            manifest.election_id,
            manifest,
            n,
            k,
            {int(i): bytes.fromhex(h) for i, h in setup["keys"].items()},
            announcements,
            shares,
            complaints,
            qualified,
            joint,
            public_shares,
            error,
            tally,
            decryptions,
            result,
        )

    # --- uploads --------------------------------------------------------------------------------
    def accept(self, raw: Any) -> dict[str, Any]:
        """Check one signed upload completely, then store it; returns a short receipt."""
        if not _ELECTION.fullmatch(self.dir.name):
            raise Refusal("unknown_election", self.dir.name)
        with self.locked():
            state = self.load()
            try:
                env = wire.parse_envelope(raw, state.trustees)
            except EncodingError as exc:
                raise Refusal("bad_upload", str(exc)) from exc
            if env["election"] != state.election_id.hex():
                raise Refusal("wrong_election", env["election"])
            trustee: int = env["trustee"]
            if not wire.verify_upload_signature(env, state.keys[trustee]):
                raise Refusal("bad_signature", f"trustee {trustee}")
            kind: str = env["kind"]
            path = self.dir / f"{kind}-{trustee}.json"
            if path.exists():
                raise Refusal("already_uploaded", f"{kind} of trustee {trustee}")
            try:
                check = getattr(self, f"_check_{kind}")
                check(state, trustee, env["body"])
            except (ElectionError, ValueError) as exc:
                raise Refusal("bad_upload", str(exc)) from exc
            if not write_once(path, canonical_json(env) + b"\n"):
                raise Refusal("already_uploaded", f"{kind} of trustee {trustee}")
            self._derive()
            return {"stored": path.name, "phase": self.load().phase}

    def _check_announcement(self, state: State, trustee: int, body: Any) -> None:
        if state.phase != "announce":
            raise Refusal("wrong_phase", f"the ceremony is at '{state.phase}'")
        codec._obj(body, "upload.body", {"announcement"})
        (announcement,), _, _ = wire.ceremony_from_dict(
            {"announcements": [body["announcement"]], "shares": [], "complaints": []},
            state.trustees,
            state.quorum,
        )
        if announcement.trustee != trustee:
            raise Refusal("wrong_trustee", f"announcement of trustee {announcement.trustee}")
        try:
            verify_announcement(
                announcement,
                ceremony_hash(state.election_id, state.trustees, state.quorum),
                state.quorum,
            )
        except CeremonyError as exc:
            raise Refusal("bad_proof", str(exc)) from exc
        if any(
            a.aux_public_key == announcement.aux_public_key for a in state.announcements.values()
        ):
            raise Refusal("duplicate_key")

    def _check_shares(self, state: State, trustee: int, body: Any) -> None:
        if state.phase != "deal":
            raise Refusal("wrong_phase", f"the ceremony is at '{state.phase}'")
        codec._obj(body, "upload.body", {"shares"})
        _, shares, _ = wire.ceremony_from_dict(
            {"announcements": [], "shares": body["shares"], "complaints": []},
            state.trustees,
            state.quorum,
        )
        if any(s.dealer != trustee for s in shares):
            raise Refusal("wrong_trustee", "a share from another dealer")
        recipients = [s.recipient for s in shares]
        expected = [j for j in range(1, state.trustees + 1) if j != trustee]
        if recipients != expected:
            raise Refusal("bad_shares", f"recipients {recipients}, due {expected}")

    def _check_complaints(self, state: State, trustee: int, body: Any) -> None:
        if state.phase != "complain":
            raise Refusal("wrong_phase", f"the ceremony is at '{state.phase}'")
        codec._obj(body, "upload.body", {"complaints"})
        _, _, complaints = wire.ceremony_from_dict(
            {"announcements": [], "shares": [], "complaints": body["complaints"]},
            state.trustees,
            state.quorum,
        )
        all_shares = [s for dealt in state.shares.values() for s in dealt]
        cer = ceremony_hash(state.election_id, state.trustees, state.quorum)
        for c in complaints:
            if c.accuser != trustee:
                raise Refusal("wrong_trustee", f"a complaint by trustee {c.accuser}")
            try:
                complaint_upheld(c, list(state.announcements.values()), all_shares, cer)
            except CeremonyError as exc:
                raise Refusal("bad_proof", str(exc)) from exc

    def _check_decryption(self, state: State, trustee: int, body: Any) -> None:
        if state.phase not in ("decrypt", "done"):
            raise Refusal("wrong_phase", f"the exchange is at '{state.phase}'")
        assert state.tally is not None
        codec._obj(body, "upload.body", {"tally_hash", "share"})
        if body["tally_hash"] != wire.tally_hash(state.tally.tally).hex():
            raise Refusal("wrong_tally")
        share = wire.decryption_from_dict(body["share"], state.manifest, state.trustees)
        if share.trustee != trustee:
            raise Refusal("wrong_trustee", f"a decryption share of trustee {share.trustee}")
        public = state.public_shares.get(trustee)
        if public is None:
            raise Refusal("wrong_phase", f"trustee {trustee} has no public share")
        try:
            verify_decryption_share(state.tally.context, share, public, state.tally.tally)
        except ElectionError as exc:
            raise Refusal("bad_proof", str(exc)) from exc

    def _derive(self) -> None:
        """Derived files: the ceremony's outcome, then the result (each written once)."""
        state = self.load()
        if len(state.complaints) == state.trustees and not (self.dir / "ceremony.json").exists():
            try:
                outcome = verify_transcript(
                    state.election_id,
                    state.trustees,
                    state.quorum,
                    [state.announcements[i] for i in sorted(state.announcements)],
                    [s for i in sorted(state.shares) for s in state.shares[i]],
                    [c for i in sorted(state.complaints) for c in state.complaints[i]],
                )
                cer: dict[str, Any] = {
                    "qualified": list(outcome.qualified),
                    "joint_public_key": outcome.joint_public_key.hex(),
                    "public_shares": {
                        str(j): x.hex() for j, x in sorted(outcome.public_shares.items())
                    },
                }
            except CeremonyError as exc:
                cer = {"error": str(exc)}
            write_once(self.dir / "ceremony.json", canonical_json(cer) + b"\n")
        if (
            state.tally is not None
            and len(state.decryptions) >= state.quorum
            and not (self.dir / "result.json").exists()
        ):
            counts = combine(
                state.tally.context, state.tally.tally, list(state.decryptions.values())
            )
            result = {
                "tally_hash": wire.tally_hash(state.tally.tally).hex(),
                "trustees": sorted(state.decryptions)[: state.quorum],
                "result": {
                    c.id: {o.id: n for o, n in zip(c.options, row, strict=True)}
                    for c, row in zip(state.manifest.contests, counts, strict=True)
                },
            }
            write_once(self.dir / "result.json", canonical_json(result) + b"\n")

    # --- public views ---------------------------------------------------------------------------
    def transcript(self) -> dict[str, Any]:
        state = self.load()
        return wire.ceremony_to_dict(
            list(state.announcements.values()),
            [s for dealt in state.shares.values() for s in dealt],
            [c for made in state.complaints.values() for c in made],
        )


def election_progress(state: State) -> dict[str, Any]:
    return {
        "election_id": state.election_id.hex(),
        "name": {"ja": state.manifest.name_ja, "en": state.manifest.name_en},
        "trustees": state.trustees,
        "quorum": state.quorum,
        "phase": state.phase,
        "announced": sorted(state.announcements),
        "dealt": sorted(state.shares),
        "complained": sorted(state.complaints),
        "complaints": sum(len(c) for c in state.complaints.values()),
        "qualified": list(state.qualified) if state.qualified is not None else None,
        "joint_public_key": state.joint_public_key.hex() if state.joint_public_key else None,
        "ceremony_error": state.ceremony_error,
        "tally_ready": state.tally is not None,
        "ballot_count": state.tally.tally.ballot_count if state.tally is not None else None,
        "decrypted": sorted(state.decryptions),
        "result": state.result["result"] if state.result is not None else None,
    }


def progress(config: Any) -> dict[str, Any]:
    """The ceremony/decryption progress of every election (for the officials' dashboard)."""
    root = trustee_dir(config)
    elections = []
    if root.is_dir():
        for directory in sorted(root.iterdir()):
            if _ELECTION.fullmatch(directory.name) and (directory / "election.json").is_file():
                elections.append(election_progress(ElectionFiles(directory).load()))
    return {"elections": elections}
