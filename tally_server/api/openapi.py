"""The OpenAPI 3.1 document of the JSON API (served at ``/api/openapi.json``).

Kept beside the views it describes; ``tests/tally_server/test_api_schema.py`` runs
schemathesis against the live server with it, so the two cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

from tally_server.errors import REASONS, register_reason
from tally_server.trustees.exchange import REASONS as TRUSTEE_REASONS

# The trustees' exchange (mounted under /api/v1/trustees) names its refusals in the same
# catalogue, so the document's Error codes and every client see one list.
for _code, (_status, _ja, _en) in TRUSTEE_REASONS.items():
    register_reason(_code, _status, _ja, _en)

TEXT = {
    "type": "object",
    "required": ["ja", "en"],
    "additionalProperties": False,
    "properties": {"ja": {"type": "string"}, "en": {"type": "string"}},
}
HEX = {"type": "string", "pattern": "^[0-9a-f]*$"}
INT = {"type": "integer", "minimum": 0}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(required),
        "additionalProperties": False,
        "properties": {**required, **(optional or {})},
    }


def _page(item: str) -> dict[str, Any]:
    return _obj(
        {
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 500},
            "total": INT,
            "items": {"type": "array", "items": _ref(item)},
        }
    )


NODE_PRESENCE = _obj(
    {"url": {"type": "string"}, "state": {"enum": ["present", "absent", "unreachable"]}},
    {"detail": {"type": "string"}},
)
REASON = _obj(
    {
        "code": {"type": "string"},
        "message_ja": {"type": "string"},
        "message_en": {"type": "string"},
        "detail": {"type": "string"},
    }
)
BALLOT_FIELDS = {
    "seq": INT,
    "tracking_code": {"type": "string"},
    "ballot_hash": HEX,
    "status": {"enum": ["counted", "excluded"]},
    "reason": {"oneOf": [{"type": "null"}, _ref("Reason")]},
}
CONTEST = _obj(
    {
        "id": {"type": "string"},
        "title": TEXT,
        "min": INT,
        "max": INT,
        "options": {
            "type": "array",
            "items": _obj({"id": {"type": "string"}, "name": TEXT}),
        },
    }
)
SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {
            "error": {"enum": sorted(REASONS)},
            "message_ja": {"type": "string"},
            "message_en": {"type": "string"},
        },
        {"detail": {"type": "string"}},
    ),
    "Text": TEXT,
    "Reason": REASON,
    "NodePresence": NODE_PRESENCE,
    "Contest": CONTEST,
    "Election": _obj(
        {
            "election": _obj(
                {
                    "id": {"type": "string"},
                    "name": TEXT,
                    "date": {"type": "string", "format": "date"},
                    "municipality": TEXT,
                    "contests": {"type": "array", "items": _ref("Contest")},
                }
            ),
            "election_id": HEX,
            "chain_id": {"type": "integer", "minimum": 1},
            "contract": {"type": "string", "pattern": "^0x[0-9a-f]{40}$"},
            "first_block": INT,
            "indexed_to_block": {"oneOf": [{"type": "null"}, INT]},
            "confirmations": INT,
            "ballots": INT,
            "counted": INT,
            "excluded": INT,
            "checked": INT,
            "nodes": {"type": "array", "items": {"type": "string"}},
        }
    ),
    "BallotItem": _obj(BALLOT_FIELDS),
    "BallotPage": _page("BallotItem"),
    "Ballot": _obj(
        {
            **BALLOT_FIELDS,
            "token": {"type": "string", "pattern": "^0x[0-9a-f]{40}$"},
            "nodes": {"type": "array", "items": _ref("NodePresence")},
        }
    ),
    "CheckedItem": _obj(
        {"seq": INT, "tracking_code": {"type": "string"}, "ballot_hash": HEX, "block_number": INT}
    ),
    "CheckedPage": _page("CheckedItem"),
    "CheckedBallot": _obj(
        {
            "seq": INT,
            "tracking_code": {"type": "string"},
            "ballot_hash": HEX,
            "block_number": INT,
            "master_nonce": HEX,
            "opened": _obj(
                {
                    "ok": {"type": "boolean"},
                    "error": {"type": ["string", "null"]},
                    "contests": {
                        "type": "array",
                        "items": _obj(
                            {
                                "id": {"type": "string"},
                                "title": TEXT,
                                "chosen": {
                                    "type": "array",
                                    "items": _obj({"id": {"type": "string"}, "name": TEXT}),
                                },
                            }
                        ),
                    },
                }
            ),
            "nodes": {"type": "array", "items": _ref("NodePresence")},
        }
    ),
    "Result": _obj(
        {
            "decrypted": {"type": "boolean"},
            "verified": {"type": "boolean"},
            "current": {"type": "boolean"},
            "verified_to_block": {"oneOf": [{"type": "null"}, INT]},
            "counted": INT,
            "result": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "array",
                        "items": _obj(
                            {
                                "id": {"type": "string"},
                                "title": TEXT,
                                "options": {
                                    "type": "array",
                                    "items": _obj(
                                        {"id": {"type": "string"}, "name": TEXT, "count": INT}
                                    ),
                                },
                            }
                        ),
                    },
                ]
            },
            "checks": {
                "type": "array",
                "items": _obj(
                    {
                        "name": {"type": "string"},
                        "status": {"enum": ["ok", "fail", "pending"]},
                        "count": INT,
                        "failures": {"type": "array", "items": {"type": "string"}},
                    }
                ),
            },
            "check_names": {"type": "array", "items": {"type": "string"}},
        }
    ),
    "Nodes": _obj(
        {
            "nodes": {
                "type": "array",
                "items": _obj(
                    {
                        "url": {"type": "string"},
                        "latest": {
                            "oneOf": [
                                {"type": "null"},
                                _obj(
                                    {
                                        "observed_at": {"type": "string"},
                                        "ok": {"type": "boolean"},
                                        "head": {"type": ["integer", "null"]},
                                        "head_hash": {"type": ["string", "null"]},
                                        "peers": {"type": ["integer", "null"]},
                                        "error": {"type": ["string", "null"]},
                                    }
                                ),
                            ]
                        },
                    }
                ),
            },
            "disagreements": {
                "type": "array",
                "items": _obj(
                    {
                        "observed_at": {"type": "string"},
                        "kind": {"enum": ["block_hash", "head"]},
                        "height": INT,
                        "detail": {"type": "string"},
                    }
                ),
            },
        }
    ),
    "KioskHealth": _obj(
        {
            "reader": {"enum": ["no_reader", "empty", "card", "unreadable"]},
            **{
                name: {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
                for name in (
                    "outbox_depth",
                    "wrong_pin",
                    "locked",
                    "forgotten_pin",
                    "refused",
                    "ballots_cast",
                    "ballots_checked",
                )
            },
        }
    ),
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


PAGE_PARAMS = [
    {
        "name": "page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 10**9},
    },
    {
        "name": "per_page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
    },
]
CODE_PARAM = {
    "name": "code",
    "in": "path",
    "required": True,
    "description": "The tracking code as the kiosk shows it: 13 groups of four of A–Z and 2–7 "
    "(the server also forgives lower case and missing dashes).",
    "schema": {"type": "string", "pattern": "^[A-Z2-7]{4}(-[A-Z2-7]{4}){12}$"},
}
COMMON = {"503": _error("the election setup is not configured")}


def _get(
    op_id: str,
    summary: str,
    ok: dict[str, Any],
    *,
    params: list[dict[str, Any]] | None = None,
    not_found: bool = False,
    bad: bool = False,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok, **COMMON}
    if bad:
        responses["400"] = _error("a parameter is invalid (bad_parameter, bad_tracking_code)")
    if not_found:
        responses["404"] = _error("not indexed (yet)")
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "parameters": params or [],
            "responses": responses,
        }
    }


ELECTION_PARAM = {
    "name": "election",
    "in": "path",
    "required": True,
    "description": "The election id: 64 lower-case hex digits.",
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}
ANY_JSON = {"application/json": {"schema": {"type": "object"}}}


def _trustee_file(op_id: str, summary: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "parameters": [ELECTION_PARAM],
            "responses": {
                "200": {"description": summary, "content": ANY_JSON},
                "404": _error("unknown_election, or the file does not exist yet"),
            },
        }
    }


def _trustee_paths() -> dict[str, Any]:
    """The trustees' file exchange (docs/trustees.md): public reads, signed uploads."""
    base = "/api/v1/trustees"
    return {
        f"{base}/": {
            "get": {
                "operationId": "listTrusteeElections",
                "summary": "Ceremony and decryption progress of every election",
                "responses": {"200": {"description": "progress", "content": ANY_JSON}},
            }
        },
        f"{base}/{{election}}": _trustee_file("getTrusteeProgress", "One election's progress"),
        f"{base}/{{election}}/setup": _trustee_file("getTrusteeSetup", "The ceremony's setup"),
        f"{base}/{{election}}/transcript": _trustee_file(
            "getCeremonyTranscript", "The key ceremony's transcript so far"
        ),
        f"{base}/{{election}}/ceremony": _trustee_file(
            "getCeremonyOutcome", "The ceremony's outcome (joint key, qualified trustees)"
        ),
        f"{base}/{{election}}/tally": _trustee_file(
            "getTrusteeTally", "The encrypted tally the trustees decrypt"
        ),
        f"{base}/{{election}}/result": _trustee_file(
            "getTrusteeResult", "The counts, once a quorum of decryption shares verified"
        ),
        f"{base}/{{election}}/uploads": {
            "post": {
                "operationId": "uploadTrusteeStep",
                "summary": "A trustee's signed upload (announcement, shares, complaints, "
                "decryption share); checked before it is stored, never overwritten",
                "parameters": [ELECTION_PARAM],
                "requestBody": {"required": True, "content": ANY_JSON},
                "responses": {
                    "201": {"description": "stored", "content": ANY_JSON},
                    "400": _error("bad_upload"),
                    "403": _error("bad_signature, wrong_trustee"),
                    "404": _error("unknown_election"),
                    "409": _error("already_uploaded, wrong_phase, wrong_tally"),
                    "413": _error("request_too_large"),
                    "422": _error("bad_proof, duplicate_key, bad_shares"),
                },
            }
        },
    }


def openapi_document(base_url: str = "") -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/v1/election": _get(
            "getElection", "The election, its contests and what is indexed", _ok("Election", "")
        ),
        "/api/v1/ballots": _get(
            "listBallots",
            "All cast ballots in chain order",
            _ok("BallotPage", ""),
            params=[
                *PAGE_PARAMS,
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["counted", "excluded"]},
                },
            ],
            bad=True,
        ),
        "/api/v1/ballots/{code}": _get(
            "getBallot",
            "One ballot by tracking code, and whether each configured node holds it",
            _ok("Ballot", ""),
            params=[CODE_PARAM],
            not_found=True,
            bad=True,
        ),
        "/api/v1/excluded": _get(
            "listExcluded",
            "Ballots that do not count, each with its published reason",
            _ok("BallotPage", ""),
            params=PAGE_PARAMS,
            bad=True,
        ),
        "/api/v1/checked": _get(
            "listChecked",
            "Checked (Benaloh-challenged) ballots",
            _ok("CheckedPage", ""),
            params=PAGE_PARAMS,
            bad=True,
        ),
        "/api/v1/checked/{code}": _get(
            "getChecked",
            "A checked ballot opened with its revealed nonce (decrypted by the server with the "
            "core; anyone can repeat it)",
            _ok("CheckedBallot", ""),
            params=[CODE_PARAM],
            not_found=True,
            bad=True,
        ),
        "/api/v1/result": _get(
            "getResult",
            "The result (once decrypted) and the status of every check of the verifier",
            _ok("Result", ""),
        ),
        "/api/v1/record": _get(
            "getRecord",
            "The election record (ippyo/election-record version 2) as far as it is indexed",
            {
                "description": "docs/election-record.md",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
        ),
        "/api/v1/nodes": _get(
            "getNodes", "Each node's last observed head, and disagreements", _ok("Nodes", "")
        ),
        "/api/v1/kiosks/{kiosk_id}/health": {
            "post": {
                "operationId": "reportKioskHealth",
                "summary": "A kiosk's health report (counters since the kiosk process started)",
                "security": [{"kioskSecret": []}],
                "parameters": [
                    {
                        "name": "kiosk_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("KioskHealth")}},
                },
                "responses": {
                    "204": {"description": "stored"},
                    "400": _error("bad_health_report"),
                    "401": _error("bad_kiosk_credentials"),
                    "404": _error("not_found"),
                    "413": _error("request_too_large"),
                },
            }
        },
    }
    paths.update(_trustee_paths())
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "ippyo tally server API",
            "version": "1",
            "description": "Public reads need no login; Japanese and English in every text. "
            "Every refusal is a JSON error with a stable code (docs/tally.md).",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"kioskSecret": {"type": "http", "scheme": "bearer"}},
        },
    }
    if base_url:
        doc["servers"] = [{"url": base_url}]
    return doc
