"""The registrar's Flask service: a small JSON API for kiosks.

    POST /v1/challenges          → {"nonce", "expires_at"}             (kiosk-authenticated)
    POST /v1/tokens              → {"blind_signature"} or a refusal     (kiosk-authenticated)
    GET  /v1/info                → election id and the registrar's public key
    GET  /healthz

Kiosks authenticate with ``Authorization: Bearer <kiosk id>:<secret>``; the configuration holds
only SHA-256 hashes of the secrets. Refusals are JSON ``{"error": {"code", "message_ja",
"message_en", "detail"}}`` with a stable code (registrar/refusals.py).

Configuration: a TOML file named by ``IPPYO_REGISTRAR_CONFIG``, then ``IPPYO_REGISTRAR_*``
environment variables, then the mapping given to :func:`create_app` (tests).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import math
import os
import secrets
import threading
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from flask import Blueprint, Flask, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from election import token as tokens
from election.errors import ElectionError
from election.primitives.blind_rsa import RSAPublicKey
from registrar.eligibility import (
    DEFAULT_POLICIES,
    ElectionRules,
    TrustStore,
    normalize_address,
    person_key,
    verify_card_signature,
)
from registrar.ledger import Ledger
from registrar.refusals import Refusal
from registrar.signer import BlindSigner, KeyFileSigner, Pkcs11Signer

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": "sqlite:///var/registrar/registrar.db",
    "CHALLENGE_TTL": 60,
    "MINIMUM_AGE": 18,
    "ROLL_REQUIRED": False,
    "KIOSKS": {},
    "CRLS": [],
    "SIGNATURE_POLICIES": list(DEFAULT_POLICIES),
    "MAX_CONTENT_LENGTH": 64 * 1024,  # a certificate is ~2 KB; larger bodies get 413
    "CHALLENGES_PER_MINUTE": 60,  # per kiosk; a kiosk serves one voter every ~30 s
}

api = Blueprint("registrar_api", __name__, url_prefix="/v1")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    path = os.environ.get("IPPYO_REGISTRAR_CONFIG")
    if path:
        with open(path, "rb") as f:
            app.config.update({k.upper(): v for k, v in tomllib.load(f).items()})
    app.config.from_prefixed_env("IPPYO_REGISTRAR")
    if config:
        app.config.update(config)
    init_app(app)
    app.register_blueprint(api)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return {"ok": True}

    @app.errorhandler(Refusal)
    def refused(exc: Refusal) -> ResponseReturnValue:
        return _refuse(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        code = HTTP_CODES.get(exc.code or 400, "bad_request")
        return _refuse(Refusal(code, exc.name))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:  # pragma: no cover - a bug
        current_app.logger.exception("internal error")
        return _refuse(Refusal("internal_error", type(exc).__name__))

    return app


def init_app(app: Flask) -> None:
    cfg = app.config
    missing = [
        k
        for k in ("ELECTION_ID", "ELECTION_DAY", "MUNICIPALITY", "CA_CERTS", "SIGNER")
        if k not in cfg
    ]
    if missing:
        raise RuntimeError(f"registrar configuration lacks {', '.join(missing)}")
    if cfg["DATABASE_URL"].startswith("sqlite:///") and not cfg["DATABASE_URL"].startswith(
        "sqlite:////"
    ):
        Path(cfg["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    signer_cfg = cfg["SIGNER"]
    signer: BlindSigner
    if signer_cfg["type"] == "keyfile":
        signer = KeyFileSigner(Path(signer_cfg["path"]))
    elif signer_cfg["type"] == "pkcs11":
        signer = Pkcs11Signer(
            signer_cfg["module"],
            signer_cfg["token_label"],
            signer_cfg["pin"],
            signer_cfg["key_label"],
        )
    else:
        raise RuntimeError(f"unknown signer type {signer_cfg['type']!r}: keyfile or pkcs11")
    day = cfg["ELECTION_DAY"]
    app.extensions["ippyo_registrar"] = {
        "ledger": Ledger.open(cfg["DATABASE_URL"]),
        "trust": TrustStore(
            [Path(p) for p in cfg["CA_CERTS"]],
            [Path(p) for p in cfg["CRLS"]],
            [str(p) for p in cfg["SIGNATURE_POLICIES"]],
        ),
        "signer": signer,
        "rules": ElectionRules(
            dt.date.fromisoformat(day) if isinstance(day, str) else day,
            int(cfg["MINIMUM_AGE"]),
            cfg["MUNICIPALITY"],
            bool(cfg["ROLL_REQUIRED"]),
        ),
        "election_id": bytes.fromhex(cfg["ELECTION_ID"]),
        "limiter": RateLimiter(int(cfg["CHALLENGES_PER_MINUTE"])),
        "now": cfg.get("NOW") or (lambda: dt.datetime.now(dt.UTC)),
    }


HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    408: "request_timeout",
}


def _refuse(refusal: Refusal) -> ResponseReturnValue:
    """Every refusal: an audit row (kiosk, code, person and certificate where known), a JSON
    log line with the code, and the JSON answer."""
    kiosk = getattr(g, "kiosk_id", None) or _claimed_kiosk()
    person, fingerprint = getattr(g, "person", None), getattr(g, "fingerprint", None)
    try:
        now = _now()
        _parts()["ledger"].audit(kiosk, "refused", refusal.code, person, fingerprint, now)
    except Exception:  # pragma: no cover - the database is down: still answer, and log it
        current_app.logger.exception("cannot audit a refusal")
    _log("refused", refusal.code, kiosk, fingerprint, refusal.detail)
    response = jsonify(refusal.to_json())
    response.status_code = refusal.status
    return response


def _claimed_kiosk() -> str:
    """For the audit of an unauthenticated request: the kiosk id it claimed, marked as such."""
    try:
        claimed = request.headers.get("Authorization", "").partition(" ")[2].partition(":")[0]
    except RuntimeError:  # pragma: no cover - outside a request
        claimed = ""
    return ("?" + claimed)[:64]


def _log(decision: str, code: str, kiosk: str, fingerprint: str | None, detail: str = "") -> None:
    current_app.logger.info(
        json.dumps(
            {
                "event": "registrar." + decision,
                "code": code,
                "kiosk": kiosk,
                "certificate_sha256": fingerprint,
                "path": request.path,
                "detail": detail[:200],
            },
            ensure_ascii=False,
        )
    )


def _parts() -> dict[str, Any]:
    parts: dict[str, Any] = current_app.extensions["ippyo_registrar"]
    return parts


def _now() -> dt.datetime:
    clock: Callable[[], dt.datetime] = _parts()["now"]
    return clock()


def _kiosk() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    kiosk_id, _, secret = credential.partition(":")
    expected = current_app.config["KIOSKS"].get(kiosk_id)
    if (
        scheme != "Bearer"
        or not secret
        or expected is None
        or not hmac.compare_digest(hash_secret(secret), expected)
    ):
        raise Refusal("unauthenticated_kiosk")
    certified = _client_certificate_kiosk()
    if certified is not None and certified != kiosk_id:
        # A kiosk's certificate (mTLS) names the one kiosk it was issued to: a kiosk may not
        # use another kiosk's secret, nor a stolen secret be used from another kiosk.
        raise Refusal("kiosk_certificate_mismatch", f"certificate for {certified[:64]!r}")
    g.kiosk_id = kiosk_id
    return kiosk_id


def _client_certificate_kiosk() -> str | None:
    """The kiosk id (subject common name) of the TLS client certificate the server verified,
    or None when the connection carries none (no mTLS)."""
    if request.environ.get("SSL_CLIENT_VERIFY") != "SUCCESS":
        return None
    pem = request.environ.get("SSL_CLIENT_CERT", "")
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError as exc:
        raise Refusal("kiosk_certificate_mismatch", "unreadable client certificate") from exc
    if len(names) != 1:
        raise Refusal("kiosk_certificate_mismatch", "no single common name")
    return str(names[0].value)


def _json_body() -> dict[str, Any]:
    """The request's JSON object; anything else (not JSON, not UTF-8, nested too deep, not an
    object) is ``bad_request``. The size limit (MAX_CONTENT_LENGTH) applies before reading."""
    raw = request.get_data(cache=False)
    depth = max_depth = 0
    for byte in raw:  # refuse deep nesting before the parser recurses (strings may overcount,
        if byte in b"[{":  # which only refuses sooner)
            depth += 1
            max_depth = max(max_depth, depth)
            if max_depth > MAX_JSON_DEPTH:
                raise Refusal("bad_request", f"JSON nested deeper than {MAX_JSON_DEPTH}")
        elif byte in b"]}":
            depth -= 1
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Refusal("bad_request", "the body is not JSON") from exc
    if not isinstance(body, dict):
        raise Refusal("bad_request", "a JSON object is expected")
    return body


MAX_JSON_DEPTH = 8


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


class RateLimiter:
    """Challenges per kiosk in a sliding minute (per process; a kiosk serves one voter at a
    time, so a flood means a broken or hostile kiosk)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, list[dt.datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, kiosk_id: str, now: dt.datetime) -> bool:
        with self._lock:
            start = now - dt.timedelta(minutes=1)
            recent = [t for t in self._seen.get(kiosk_id, []) if t > start]
            if len(recent) >= self.per_minute:
                self._seen[kiosk_id] = recent
                return False
            recent.append(now)
            self._seen[kiosk_id] = recent
            return True


def _b64(body: Mapping[str, Any], field: str) -> bytes:
    value = body.get(field)
    if not isinstance(value, str):
        raise Refusal("bad_request", f"{field} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refusal("bad_request", f"{field} is not base64") from exc


def check_blinded(blinded: bytes, key: RSAPublicKey) -> None:
    """A blinded value must be a full-length element of Z_n^* other than the trivial ones: 0, 1
    and n−1 sign to known values, and a value sharing a factor with n is not a blinding."""
    if len(blinded) != key.size:
        raise Refusal("bad_blinded_token", f"{len(blinded)} bytes, {key.size} expected")
    value = int.from_bytes(blinded, "big")
    if value >= key.n:
        raise Refusal("bad_blinded_token", "not below the modulus")
    if value in (0, 1, key.n - 1):
        raise Refusal("degenerate_blinded_token", "0, 1 or n-1")
    if math.gcd(value, key.n) != 1:
        raise Refusal("degenerate_blinded_token", "not coprime to the modulus")


@api.get("/info")
def info() -> ResponseReturnValue:
    key = _parts()["signer"].public_key
    return {
        "election_id": _parts()["election_id"].hex(),
        "registrar_key": {"n": f"{key.n:x}", "e": key.e},
    }


@api.post("/challenges")
def challenge() -> ResponseReturnValue:
    kiosk_id = _kiosk()
    now = _now()
    limiter: RateLimiter = _parts()["limiter"]
    if not limiter.allow(kiosk_id, now):
        raise Refusal("rate_limited", f"{limiter.per_minute} challenges a minute")
    nonce = secrets.token_bytes(32)
    expires = now + dt.timedelta(seconds=int(current_app.config["CHALLENGE_TTL"]))
    _parts()["ledger"].add_challenge(nonce.hex(), kiosk_id, expires, now)
    return {"nonce": nonce.hex(), "expires_at": expires.isoformat()}, 201


@api.post("/tokens")
def issue() -> ResponseReturnValue:
    kiosk_id = _kiosk()
    parts = _parts()
    ledger: Ledger = parts["ledger"]
    now = _now()
    body = _json_body()
    nonce = body.get("nonce")
    if not isinstance(nonce, str) or len(nonce) != 64 or not _is_hex(nonce):
        raise Refusal("bad_challenge")
    certificate = _b64(body, "certificate")
    card_signature = _b64(body, "card_signature")
    blinded = _b64(body, "blinded_token")
    ledger.check_challenge(nonce, kiosk_id, now)  # cheap, before the certificate work
    try:
        attrs, cert = parts["trust"].validate(certificate, now)
    except Refusal:
        raise
    except Exception as exc:  # any failure while reading a certificate is the certificate's
        raise Refusal("bad_certificate", f"{type(exc).__name__}: {exc}"[:200]) from exc
    g.fingerprint = fingerprint = attrs.fingerprint_sha256.hex()
    try:
        g.person = person = person_key(attrs)
    except Exception as exc:
        raise Refusal("bad_certificate", f"{type(exc).__name__}") from exc
    verify_card_signature(
        cert, tokens.challenge_digest(bytes.fromhex(nonce), kiosk_id), card_signature
    )
    # Only a request the card really signed uses up its challenge.
    ledger.consume_challenge(nonce, kiosk_id, now)
    rules: ElectionRules = parts["rules"]
    rules.check_age(attrs)
    if rules.roll_required:
        entry = ledger.roll_entry(person)
        if entry is None:
            raise Refusal(
                "not_on_roll" if rules.in_municipality(attrs.address) else "other_municipality"
            )
        if entry.address != normalize_address(attrs.address):
            raise Refusal("moved_address")
    elif not rules.in_municipality(attrs.address):
        raise Refusal("other_municipality")
    signer: BlindSigner = parts["signer"]
    check_blinded(blinded, signer.public_key)
    first = ledger.record_issuance(
        person, fingerprint, hashlib.sha256(blinded).hexdigest(), kiosk_id, now
    )
    try:
        blind_signature = signer.blind_sign(blinded)
    except ElectionError as exc:
        raise Refusal("bad_blinded_token", str(exc)) from exc
    decision = "issued" if first else "reissued"
    ledger.audit(kiosk_id, decision, "ok", person, fingerprint, now)
    _log(decision, "ok", kiosk_id, fingerprint)
    return {
        "blind_signature": base64.b64encode(blind_signature).decode(),
        "reissue": not first,
    }, 200
