"""Published reasons for excluded ballots (the core's stable codes, in Japanese and English)."""

from __future__ import annotations

from election import validity

EXCLUSION_REASONS: dict[str, tuple[str, str]] = {
    validity.BAD_TOKEN_SIGNATURE: (
        "投票トークンに選挙人名簿管理者の有効な署名がありません",
        "the token does not carry a valid registrar signature",
    ),
    validity.BAD_BINDING_SIGNATURE: (
        "投票トークンの署名がこの票・チェーン・コントラクトと一致しません",
        "the token key's signature does not match this ballot, chain and contract",
    ),
    validity.MALFORMED: (
        "票の形式がこの選挙のものではありません",
        "the ballot does not decode for this election",
    ),
    validity.BAD_PROOF: (
        "票の正当性の証明が検証できません",
        "a proof in the ballot does not verify",
    ),
    validity.ZERO_NONCE: (
        "暗号化の乱数が0のため内容が誰にでも読めます",
        "a ciphertext was made with nonce 0, so anyone can read it",
    ),
    validity.DUPLICATE_TOKEN: (
        "同じ投票トークンによる2票目の票です（最初の票が有効です）",
        "a second ballot with an already used token (the first one counts)",
    ),
    validity.DUPLICATE_BALLOT: (
        "先に投じられた票の複製です（最初の票だけが数えられます）",
        "a copy of a ballot cast earlier (only the first one counts)",
    ),
    validity.SUPERSEDED: (
        "同じ投票トークンによる後の票に置き換えられました",
        "replaced by a later valid ballot with the same token",
    ),
    validity.CHALLENGED: (
        "この票は検証用に開示されたため数えられません",
        "this ballot was checked (its nonce is public) and can never count",
    ),
}


def reason_texts(code: str) -> tuple[str, str]:
    return EXCLUSION_REASONS.get(code, ("数えられない票です", f"excluded ({code})"))
