"""Every refusal the tally server gives: a stable code, an HTTP status, Japanese and English.

The JSON body is ``{"error": code, "message_ja": ..., "message_en": ...}`` (/work/iface.md);
pages show the same texts. A view raises :class:`Refusal`; nothing else reaches the client.
"""

from __future__ import annotations

from typing import Any

# code: (HTTP status, Japanese, English)
REASONS: dict[str, tuple[int, str, str]] = {
    "bad_request": (400, "要求の形式が正しくありません", "the request is malformed"),
    "bad_parameter": (400, "パラメータが正しくありません", "a query parameter is invalid"),
    "bad_tracking_code": (
        400,
        "受付番号の形式が正しくありません",
        "not a tracking code (groups of four letters A-Z and digits 2-7)",
    ),
    "bad_health_report": (
        400,
        "稼働状況の報告の形式が正しくありません",
        "the kiosk health report is malformed",
    ),
    "bad_kiosk_credentials": (
        401,
        "投票端末を認証できません",
        "unknown kiosk or wrong kiosk secret",
    ),
    "login_required": (401, "ログインしてください", "please log in"),
    "forbidden": (403, "この操作は許可されていません", "you may not do this"),
    "access_not_declared": (
        403,
        "このページの公開範囲が設定されていません",
        "this endpoint declares no access rule, so it is refused",
    ),
    "not_found": (404, "見つかりません", "not found"),
    "ballot_not_found": (
        404,
        "この受付番号の票はまだ集計サーバーに登録されていません",
        "no ballot with this tracking code has been indexed (yet)",
    ),
    "checked_ballot_not_found": (
        404,
        "この受付番号の検証用の票は見つかりません",
        "no checked ballot with this tracking code has been indexed (yet)",
    ),
    "method_not_allowed": (405, "この操作はできません", "method not allowed"),
    "not_acceptable": (406, "この形式では返せません", "cannot answer in the requested format"),
    "request_timeout": (408, "要求の受信が時間切れです", "the request was not received in time"),
    "request_too_large": (413, "要求が大きすぎます", "the request body is too large"),
    "unsupported_media_type": (
        415,
        "JSON で送ってください",
        "the body must be JSON (Content-Type: application/json)",
    ),
    "rate_limited": (429, "要求が多すぎます", "too many requests; wait a moment"),
    "election_not_configured": (
        503,
        "選挙の設定がまだ読み込まれていません",
        "the election setup is not configured on this server",
    ),
    "internal_error": (
        500,
        "集計サーバーで障害が発生しました",
        "internal error in the tally server",
    ),
}

HTTP_CODES = {
    400: "bad_request",
    401: "login_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class Refusal(Exception):
    """A named refusal; ``detail`` (English) says what exactly was wrong."""

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in REASONS:  # pragma: no cover - a programming error
            raise ValueError(f"unknown refusal code {code!r}")
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.status, self.message_ja, self.message_en = REASONS[code]

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error": self.code,
            "message_ja": self.message_ja,
            "message_en": self.message_en,
        }
        if self.detail:
            body["detail"] = self.detail
        return body


def register_reason(code: str, status: int, message_ja: str, message_en: str) -> None:
    """For blueprints mounted later (trustees, officials) to add their own refusal codes."""
    if code in REASONS and REASONS[code] != (status, message_ja, message_en):
        raise ValueError(f"refusal code {code!r} is already defined differently")
    REASONS[code] = (status, message_ja, message_en)
