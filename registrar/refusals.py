"""Every reason the registrar can refuse, with a stable code and a Japanese and English text
for the kiosk's screen and the help desk."""

from __future__ import annotations

from dataclasses import dataclass

# code: (HTTP status, Japanese, English)
REASONS: dict[str, tuple[int, str, str]] = {
    "unauthenticated_kiosk": (401, "投票端末を認証できません", "the kiosk is not authenticated"),
    "kiosk_certificate_mismatch": (
        403,
        "投票端末の証明書が名乗った端末IDと一致しません",
        "the kiosk's client certificate is not for the kiosk id it claims",
    ),
    "bad_request": (400, "要求の形式が正しくありません", "the request is malformed"),
    "request_too_large": (413, "要求が大きすぎます", "the request body is too large"),
    "request_timeout": (408, "要求の受信が時間切れです", "the request was not received in time"),
    "not_found": (404, "そのような窓口はありません", "no such endpoint"),
    "method_not_allowed": (405, "この操作はできません", "method not allowed"),
    "rate_limited": (
        429,
        "要求が多すぎます。しばらく待ってから操作してください",
        "too many challenges from this kiosk; wait a moment",
    ),
    "internal_error": (
        500,
        "登録所で障害が発生しました。係員をお呼びください",
        "internal error at the registrar; please call staff",
    ),
    "bad_challenge": (400, "確認用の番号が正しくありません", "unknown challenge"),
    "challenge_expired": (
        400,
        "確認の時間切れです。もう一度カードを置いてください",
        "the challenge expired; please start again",
    ),
    "challenge_reused": (
        400,
        "確認用の番号はすでに使われています",
        "the challenge was already used",
    ),
    "unknown_ca": (
        403,
        "この証明書の発行者は認められていません",
        "the certificate was not issued by the JPKI signature CA",
    ),
    "bad_chain": (
        403,
        "証明書の署名を確認できません",
        "the certificate's signature does not verify",
    ),
    "expired": (
        403,
        "電子証明書の有効期限が切れています。市区町村の窓口で更新してください",
        "the certificate has expired; the municipal office can renew it",
    ),
    "not_yet_valid": (
        403,
        "電子証明書はまだ有効になっていません",
        "the certificate is not yet valid",
    ),
    "certificate_revoked": (
        403,
        "電子証明書が失効しています（住所・氏名の変更など）。窓口にお越しください",
        "the certificate is revoked (e.g. a change of address or name); please see the help desk",
    ),
    "crl_stale": (
        503,
        "失効情報が古いため確認できません。係員をお呼びください",
        "the revocation list is out of date; please call staff",
    ),
    "crl_missing": (
        503,
        "失効情報がないため確認できません。係員をお呼びください",
        "no revocation list is available; please call staff",
    ),
    "wrong_policy": (
        403,
        "署名用電子証明書ではありません",
        "this is not a JPKI signature certificate",
    ),
    "bad_certificate": (403, "電子証明書を読み取れません", "the certificate cannot be read"),
    "bad_card_signature": (
        403,
        "カードによる署名を確認できません",
        "the card's signature does not verify",
    ),
    "under_age": (
        403,
        "選挙期日に投票できる年齢に達していません",
        "below the voting age on election day",
    ),
    "other_municipality": (
        403,
        "この市区町村の選挙人ではありません（住所が市外です）",
        "not a voter of this municipality (address elsewhere)",
    ),
    "not_on_roll": (
        403,
        "選挙人名簿に登録されていません。係員にお尋ねください",
        "not on the electoral roll; please ask staff",
    ),
    "moved_address": (
        403,
        "名簿の住所と証明書の住所が異なります（転居）。係員にお尋ねください",
        "the roll and the certificate give different addresses (moved); please ask staff",
    ),
    "different_certificate": (
        409,
        "別の電子証明書で既に受付済みです。係員にお尋ねください",
        "this person was already issued a token with another certificate; please ask staff",
    ),
    "different_request": (
        409,
        "この方には既に別の要求で投票トークンを発行しています。係員にお尋ねください",
        "this person was already issued a token for another blinded request; please ask staff",
    ),
    "degenerate_blinded_token": (
        400,
        "投票トークンの値が正しくありません",
        "the blinded token is 0, 1, n-1 or shares a factor with the registrar's modulus",
    ),
    "bad_blinded_token": (
        400,
        "投票トークンの形式が正しくありません",
        "the blinded token is malformed",
    ),
}


@dataclass
class Refusal(Exception):
    code: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.code not in REASONS:
            raise ValueError(f"unknown refusal code {self.code}")
        super().__init__(
            f"{self.code}: {self.message_en}" + (f" ({self.detail})" if self.detail else "")
        )

    @property
    def status(self) -> int:
        return REASONS[self.code][0]

    @property
    def message_ja(self) -> str:
        return REASONS[self.code][1]

    @property
    def message_en(self) -> str:
        return REASONS[self.code][2]

    def to_json(self) -> dict[str, dict[str, str]]:
        return {
            "error": {
                "code": self.code,
                "message_ja": self.message_ja,
                "message_en": self.message_en,
                "detail": self.detail,
            }
        }
