"""The card layer's errors: a flat set, each with a Japanese and an English message.

The kiosk shows ``message_ja`` / ``message_en`` to the voter or the help desk; code branches on
the type. A PIN is never retried automatically: ``WrongPin`` carries the tries left.
"""

from __future__ import annotations


class CardError(Exception):
    message_ja = "カードの処理でエラーが発生しました"
    message_en = "the card could not be used"

    def __init__(self, detail: str = "") -> None:
        text = f"{self.message_ja} / {self.message_en}"
        super().__init__(f"{text}: {detail}" if detail else text)
        self.detail = detail


class NoReader(CardError):
    message_ja = "カードリーダーが見つかりません"
    message_en = "no card reader is connected"


class CardNotPresent(CardError):
    message_ja = "カードが挿入されていません"
    message_en = "no card is in the reader"


class CardRemoved(CardError):
    message_ja = "カードが取り出されました。もう一度カードを置いてください"
    message_en = "the card was removed; please insert it again"


class NotJPKICard(CardError):
    message_ja = "マイナンバーカード（公的個人認証）ではありません"
    message_en = "this is not a My Number card (no JPKI application)"


class InvalidPinFormat(CardError):
    message_ja = "暗証番号は英大文字と数字で6〜16文字です"
    message_en = "the signature PIN is 6 to 16 characters of A–Z and 0–9"


class WrongPin(CardError):
    message_ja = "暗証番号が違います"
    message_en = "wrong PIN"

    def __init__(self, tries_left: int | None) -> None:
        if tries_left is None:
            super().__init__("残り回数は窓口で確認できます / the tries left are unknown here")
        else:
            super().__init__(f"あと{tries_left}回 / {tries_left} tries left")
        self.tries_left = tries_left


class PinLocked(CardError):
    message_ja = "暗証番号がロックされています。市区町村の窓口で再設定してください"
    message_en = "the PIN is locked; the municipal office can reset it"


class SecurityStatusNotSatisfied(CardError):
    message_ja = "暗証番号の確認が必要です"
    message_en = "the PIN must be verified first"


class CardProtocolError(CardError):
    message_ja = "カードから想定外の応答がありました"
    message_en = "the card answered something unexpected"


class CertificateError(CardError):
    message_ja = "電子証明書を読み取れません"
    message_en = "the certificate cannot be read"
