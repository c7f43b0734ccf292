"""Every string the kiosk window shows, in Japanese and English (one catalogue, no Qt).

``TEXT[key] = (japanese, english)``. :func:`tr` picks one language and fills ``{placeholders}``.
Refusal screens use :func:`refusal_text`: a plain sentence and what to do next for every
registrar reason code (``registrar.refusals.REASONS``) and every contract refusal the kiosk can
meet; an unknown code falls back to the messages the registrar sent.
"""

from __future__ import annotations

import enum


class Lang(enum.Enum):
    JA = "ja"
    EN = "en"


LANGUAGES = (Lang.JA, Lang.EN)
"""Japanese first, everywhere both are shown."""

TEXT: dict[str, tuple[str, str]] = {
    # --- the frame ---------------------------------------------------------------------------
    "window.title": ("一票 投票端末", "ippyo voting kiosk"),
    "lang.ja": ("日本語", "日本語"),
    "lang.en": ("English", "English"),
    "lang.ja.a11y": ("日本語で表示する", "Show in Japanese"),
    "lang.en.a11y": ("英語で表示する", "Show in English"),
    "large.on": ("文字を大きく", "Larger text"),
    "contrast.on": ("白黒で見やすく", "High contrast"),
    "large.a11y": ("文字の大きさを切り替える", "Switch larger text on or off"),
    "contrast.a11y": ("画面の色を白黒に切り替える", "Switch high contrast on or off"),
    # --- welcome -----------------------------------------------------------------------------
    "welcome.title": ("インターネット投票へようこそ", "Welcome to internet voting"),
    "welcome.body": (
        "マイナンバーカードで投票できます。始めるには「はじめる」を押すか、カードを読み取り機に置いてください。",
        "You can vote with your My Number card. Press Start, or place your card on the reader.",
    ),
    "welcome.start": ("はじめる", "Start"),
    "welcome.start.a11y": ("投票をはじめる", "Start voting"),
    # --- insert card -------------------------------------------------------------------------
    "insert.title": ("カードを置いてください", "Please place your card"),
    "insert.body": (
        "マイナンバーカードを、顔写真を上にして読み取り機に置いてください。"
        "投票が終わるまで置いたままにしてください。",
        "Place your My Number card on the reader, photo side up. "
        "Leave it there until you have finished voting.",
    ),
    "insert.reading": ("カードを読んでいます…", "Reading your card…"),
    "insert.no_reader": (
        "カードの読み取り機が見つかりません。係員をお呼びください。",
        "The card reader is not working. Please call a member of staff.",
    ),
    "insert.no_card": (
        "カードが見つかりません。もう一度置き直してください。",
        "No card was found. Please place your card again.",
    ),
    "insert.not_jpki": (
        "このカードはマイナンバーカードではありません。マイナンバーカードを置いてください。"
        "（通知カードや保険証では投票できません）",
        "This is not a My Number card. Please use your My Number card "
        "(a notification card or a health insurance card cannot be used).",
    ),
    "insert.unreadable": (
        "カードを読み取れませんでした。カードを取り、汚れを拭いてから置き直してください。"
        "それでも読めないときは係員をお呼びください。",
        "Your card could not be read. Take it off, wipe it, and place it again. "
        "If it still cannot be read, please call a member of staff.",
    ),
    "back": ("最初に戻る", "Back to start"),
    "back.a11y": ("最初の画面に戻る", "Go back to the first screen"),
    # --- PIN ---------------------------------------------------------------------------------
    "pin.title": ("署名用パスワードを入力してください", "Enter your signature password"),
    "pin.body": (
        "カードを受け取ったときに決めた、英数字6～16文字のパスワードです"
        "（4桁の暗証番号ではありません）。",
        "This is the 6 to 16 letter-and-number password you chose when you got your card "
        "(not the 4-digit PIN).",
    ),
    "pin.field.a11y": ("署名用パスワード（入力は伏せ字で表示）", "Signature password (hidden)"),
    "pin.tries": ("入力できる残り回数：{n} 回", "Tries left: {n}"),
    "pin.last_try": (
        "注意：あと1回まちがえるとカードがロックされます。"
        "自信がないときは、入力せずに「パスワードを忘れた」を押してください。",
        "Careful: one more wrong password locks your card. If you are not sure, "
        "do not guess: press \u201cI forgot my password\u201d.",
    ),
    "pin.wrong": (
        "パスワードがちがいます。もう一度入力してください。",
        "That password is not right. Please try again.",
    ),
    "pin.format": (
        "パスワードは英字（A～Z）と数字（0～9）で6～16文字です。回数は減っていません。",
        "The password is 6 to 16 letters (A–Z) and numbers (0–9). No try was used.",
    ),
    "pin.length": ("入力した文字数：{n}", "Characters typed: {n}"),
    "pin.ok": ("決定", "OK"),
    "pin.ok.a11y": ("パスワードを確定して送る", "Submit the password"),
    "pin.delete": ("1字消す", "Delete"),
    "pin.delete.a11y": ("最後の1文字を消す", "Delete the last character"),
    "pin.clear": ("全部消す", "Clear"),
    "pin.clear.a11y": ("入力した文字を全部消す", "Clear everything typed"),
    "pin.key.a11y": ("{char} を入力", "Type {char}"),
    "pin.forgot": ("パスワードを忘れた", "I forgot my password"),
    "pin.forgot.a11y": (
        "パスワードを忘れたとき、またはカードがロックされたときの案内を見る",
        "Help if you forgot your password or your card is locked",
    ),
    # --- help desk ---------------------------------------------------------------------------
    "help.locked.title": ("カードがロックされています", "Your card is locked"),
    "help.locked.body": (
        "パスワードを続けてまちがえたため、カードの署名用パスワードがロックされました。"
        "この端末では投票できません。\n\n"
        "・お住まいの市区町村の窓口で、パスワードの初期化と再設定ができます"
        "（マイナンバーカードと本人確認が必要です）。\n"
        "・投票所の係員が、ほかの投票方法（紙の投票）をご案内します。",
        "The password was entered wrongly too many times, so the card's signature password is "
        "locked. You cannot vote at this kiosk.\n\n"
        "• Your municipal office can reset the password (bring your My Number card).\n"
        "• A member of staff here will show you another way to vote (on paper).",
    ),
    "help.forgotten.title": ("パスワードを忘れたとき", "If you forgot your password"),
    "help.forgotten.body": (
        "無理に入力しないでください。5回まちがえるとカードがロックされます。\n\n"
        "・お住まいの市区町村の窓口で、パスワードを新しく設定できます"
        "（マイナンバーカードと本人確認が必要です）。\n"
        "・投票所の係員が、ほかの投票方法（紙の投票）をご案内します。\n\n"
        "思い出したときは、カードを取り、もう一度置いてやり直せます。",
        "Please do not guess: five wrong tries lock the card.\n\n"
        "• Your municipal office can set a new password (bring your My Number card).\n"
        "• A member of staff here will show you another way to vote (on paper).\n\n"
        "If you remember it later, take your card off and place it again to start over.",
    ),
    "finish": ("終わる", "Finish"),
    "finish.a11y": ("終わってカードを取る", "Finish and take your card"),
    # --- checking ----------------------------------------------------------------------------
    "checking.title": ("確認しています…", "Checking…"),
    "checking.body": (
        "投票できるかどうかを確認しています。カードは置いたままお待ちください。",
        "We are checking that you can vote. Please leave your card on the reader and wait.",
    ),
    # --- refused -----------------------------------------------------------------------------
    "refused.title": ("この端末では投票できません", "You cannot vote at this kiosk"),
    "refused.code": ("（係員向けコード：{code}）", "(code for staff: {code})"),
    # --- already voted -----------------------------------------------------------------------
    "voted.title": ("すでに投票済みです", "You have already voted"),
    "voted.body": (
        "このカードによる投票は、すでに受け付けられています。もう一度投票することはできません。\n"
        "あなたの一票は数えられます。\n\n"
        "心当たりがないときは係員にお知らせください。",
        "A ballot from this card has already been received. You cannot vote again.\n"
        "Your vote will be counted.\n\n"
        "If you did not vote, please tell a member of staff.",
    ),
    "replaces": (
        "このカードではすでに投票されています。ここで投票すると、前の投票は取り消され、"
        "この投票だけが数えられます。",
        "You have voted before with this card. If you vote now, your earlier ballot is replaced "
        "and only this one counts.",
    ),
    # --- ballot ------------------------------------------------------------------------------
    "ballot.title": ("投票する人を選んでください", "Make your choices"),
    "ballot.limits.one": ("1名を選んでください", "Choose one"),
    "ballot.limits.range": ("{min}～{max}名を選んでください", "Choose {min} to {max}"),
    "ballot.limits.upto": (
        "{max}名まで選べます（選ばなくてもかまいません）",
        "Choose up to {max} (or none)",
    ),
    "ballot.chosen": ("{n} / {max} 名を選択中", "{n} of {max} chosen"),
    "ballot.full": (
        "選べる人数に達しました。変えるときは、選んだ人をもう一度押して外してください。",
        "You have chosen the most you may. To change, press a chosen name again to remove it.",
    ),
    "ballot.too_few": (
        "「{contest}」で、あと {n} 名選んでください。",
        "In \u201c{contest}\u201d, please choose {n} more.",
    ),
    "ballot.undervote": (
        "「{contest}」では、あと {n} 名まで選べます。"
        "このままでよければ、もう一度「確認へ進む」を押してください。",
        "In \u201c{contest}\u201d you may still choose {n} more. "
        "If that is what you want, press \u201cNext\u201d again.",
    ),
    "ballot.next": ("確認へ進む", "Next"),
    "ballot.next.a11y": ("選んだ内容を確認する", "Review your choices"),
    "ballot.option.a11y": ("{name} を選ぶ", "Choose {name}"),
    # --- review ------------------------------------------------------------------------------
    "review.title": ("選んだ内容を確かめてください", "Please check your choices"),
    "review.note": (
        "まだ投票は終わっていません。次の画面で「投票する」を押すと確定します。",
        "Nothing is sent yet: you cast your ballot on the next screen.",
    ),
    "review.none": ("（選択なし）", "(no choice)"),
    "review.change": ("選びなおす", "Change"),
    "review.change.a11y": ("選んだ内容を変える", "Change your choices"),
    "review.confirm": ("この内容で進む", "These are right"),
    "review.confirm.a11y": ("この内容で投票の準備をする", "Prepare the ballot with these choices"),
    "review.encrypting": ("投票用紙を暗号化しています…", "Sealing your ballot…"),
    # --- cast or check -----------------------------------------------------------------------
    "coc.title": ("投票しますか？", "Cast your ballot?"),
    "coc.summary": ("{contest}：{choice}", "{contest}: {choice}"),
    "coc.body": (
        "あなたの投票は暗号化されました。受付番号は次のとおりです。",
        "Your ballot is sealed (encrypted). Its tracking code is:",
    ),
    "coc.cast": ("投票する", "Cast my ballot"),
    "coc.cast.a11y": ("この投票を投じる", "Cast this ballot"),
    "coc.check": ("投じずに中身を確かめる", "Check it instead"),
    "coc.check.a11y": (
        "この投票は投じずに公開して、暗号化が正しいか別の機器で確かめる",
        "Do not cast: publish this ballot to check on another device that it was sealed right",
    ),
    "coc.check.help": (
        "「投じずに中身を確かめる」を選ぶと、この投票は数えられずに公開され、"
        "ご自分のスマートフォンなどで、選んだ内容どおりに暗号化されたかを確認できます。"
        "その後、もう一度記入して投票します。",
        "\u201cCheck it instead\u201d does not count this ballot: it is published so you can see "
        "on your own phone that it holds your choices. Then you fill in a new ballot and cast "
        "that one.",
    ),
    "coc.final": (
        "「投票する」を押すと、この内容で投票が確定します。",
        "When you press \u201cCast my ballot\u201d, your vote is final.",
    ),
    "coc.change": ("選びなおす", "Change my choices"),
    # --- sending -----------------------------------------------------------------------------
    "sending.title": ("送っています…", "Sending…"),
    "sending.body": (
        "投票を記録しています。カードは置いたまま、しばらくお待ちください。",
        "Your ballot is being recorded. Please leave your card and wait a moment.",
    ),
    # --- receipt -----------------------------------------------------------------------------
    "receipt.title": ("投票が記録されました", "Your vote is recorded"),
    "receipt.body": (
        "ありがとうございました。あなたの投票は記録され、数えられます。",
        "Thank you. Your ballot is recorded and will be counted.",
    ),
    "receipt.code": ("受付番号", "Tracking code"),
    "receipt.block": ("記録されたブロック番号：{block}", "Recorded in block {block}"),
    "receipt.qr": (
        "このQRコードから、あなたの投票が記録されていることを確かめられます（内容は表示されません）。",
        "Scan this to see that your ballot is recorded (it does not show your choices).",
    ),
    "receipt.qr.a11y": ("投票の記録を確かめるページのQRコード", "QR code of your ballot's page"),
    "receipt.print": ("控えを印刷する", "Print a receipt"),
    "receipt.print.a11y": ("受付番号の控えを印刷する", "Print the tracking code"),
    "receipt.printed": ("印刷しました。", "Printed."),
    "receipt.print_failed": (
        "印刷できませんでした。係員をお呼びください。",
        "Printing failed. Please call staff.",
    ),
    # --- checked -----------------------------------------------------------------------------
    "checked.title": ("確かめるための投票を公開しました", "Your check ballot is published"),
    "checked.body": (
        "この投票は数えられません。QRコードを、ご自分のスマートフォンなど別の機器で開くと、"
        "選んだ内容がそのとおりに暗号化されていたか確かめられます。\n"
        "確かめたら、投票用紙に記入しなおして投票してください。",
        "This ballot will not be counted. Open the QR code on another device, such as your "
        "phone, to see that it held exactly your choices.\n"
        "Then fill in a new ballot and cast it.",
    ),
    "checked.code": ("確認用の受付番号", "Tracking code of the checked ballot"),
    "checked.qr.a11y": (
        "公開した投票を確かめるページのQRコード",
        "QR code of the checked ballot's page",
    ),
    "checked.again": ("新しい投票用紙に記入する", "Fill in a new ballot"),
    "checked.again.a11y": ("新しい投票用紙に記入する", "Fill in a new ballot"),
    # --- queued ------------------------------------------------------------------------------
    "queued.title": ("投票は保存されました", "Your ballot is saved"),
    "queued.body": (
        "ネットワークの応答が遅いため、記録の完了はまだ確認できていません。"
        "投票はこの端末に安全に保存され、記録されるまで自動で送り直されます。"
        "もう一度投票する必要はありません。",
        "The network is slow, so the recording is not confirmed yet. Your ballot is safely "
        "stored in this kiosk and will be sent again until it is recorded. "
        "You do not need to vote again.",
    ),
    # --- out of service ----------------------------------------------------------------------
    "oos.title": ("ただいま使えません", "This kiosk is out of service"),
    "oos.body": (
        "申し訳ありません。この端末は現在ご利用いただけません。係員をお呼びください。",
        "Sorry, this kiosk cannot be used right now. Please call a member of staff.",
    ),
    "oos.detail": ("係員向け：{detail}", "For staff: {detail}"),
    # --- remove card -------------------------------------------------------------------------
    "remove.title": ("カードをお取りください", "Please take your card"),
    "remove.body": (
        "マイナンバーカードを読み取り機から取ってください。お忘れなく。",
        "Take your My Number card off the reader. Don't forget it.",
    ),
}


# code -> (japanese, english): a plain sentence and what to do next.
REFUSALS: dict[str, tuple[str, str]] = {
    "unauthenticated_kiosk": (
        "この端末の設定に問題があります。係員をお呼びください。",
        "This kiosk is not set up correctly. Please call a member of staff.",
    ),
    "kiosk_certificate_mismatch": (
        "この端末の設定に問題があります（端末の証明書）。係員をお呼びください。",
        "This kiosk is not set up correctly (its certificate). Please call a member of staff.",
    ),
    "bad_request": (
        "端末と受付の間で通信の問題が起きました。カードを取り、もう一度やり直してください。",
        "Something went wrong between the kiosk and the office. Take your card and start again.",
    ),
    "request_too_large": (
        "端末と受付の間で通信の問題が起きました。係員をお呼びください。",
        "Something went wrong between the kiosk and the office. Please call a member of staff.",
    ),
    "request_timeout": (
        "通信が時間切れになりました。カードを取り、もう一度やり直してください。",
        "The connection took too long. Take your card and start again.",
    ),
    "not_found": (
        "この端末の設定に問題があります。係員をお呼びください。",
        "This kiosk is not set up correctly. Please call a member of staff.",
    ),
    "method_not_allowed": (
        "この端末の設定に問題があります。係員をお呼びください。",
        "This kiosk is not set up correctly. Please call a member of staff.",
    ),
    "rate_limited": (
        "混み合っています。1分ほど待ってから、カードを置き直してください。",
        "The system is busy. Wait about a minute, then place your card again.",
    ),
    "internal_error": (
        "受付のシステムで障害が起きています。係員をお呼びください。",
        "The office's system has a problem. Please call a member of staff.",
    ),
    "bad_challenge": (
        "確認がうまくいきませんでした。カードを取り、もう一度やり直してください。",
        "The check did not go through. Take your card and start again.",
    ),
    "challenge_expired": (
        "確認の時間が切れました。カードを取り、もう一度やり直してください。",
        "The check took too long. Take your card and start again.",
    ),
    "challenge_reused": (
        "確認がうまくいきませんでした。カードを取り、もう一度やり直してください。",
        "The check did not go through. Take your card and start again.",
    ),
    "unknown_ca": (
        "このカードの電子証明書は、投票に使えるものではありません。係員にお尋ねください。",
        "The certificate on this card cannot be used for voting. Please ask a member of staff.",
    ),
    "bad_chain": (
        "カードの電子証明書を確認できませんでした。係員にお尋ねください。",
        "The certificate on your card could not be checked. Please ask a member of staff.",
    ),
    "expired": (
        "カードの電子証明書の有効期限が切れています。市区町村の窓口で更新できます。"
        "今日は係員が紙での投票をご案内します。",
        "The certificate on your card has expired. Your municipal office can renew it. "
        "Today, a member of staff will help you vote on paper.",
    ),
    "not_yet_valid": (
        "カードの電子証明書がまだ使える日になっていません。係員にお尋ねください。",
        "The certificate on your card is not valid yet. Please ask a member of staff.",
    ),
    "certificate_revoked": (
        "カードの電子証明書が失効しています（引っ越しや氏名の変更のときに失効します）。"
        "市区町村の窓口で新しくできます。今日は係員が紙での投票をご案内します。",
        "The certificate on your card was cancelled (this happens when you move or change "
        "your name). Your municipal office can issue a new one. Today, a member of staff will "
        "help you vote on paper.",
    ),
    "crl_stale": (
        "いまカードを確認できない状態です。係員をお呼びください。",
        "Cards cannot be checked right now. Please call a member of staff.",
    ),
    "crl_missing": (
        "いまカードを確認できない状態です。係員をお呼びください。",
        "Cards cannot be checked right now. Please call a member of staff.",
    ),
    "wrong_policy": (
        "カードの署名用電子証明書を読めませんでした。係員にお尋ねください。",
        "The signature certificate on your card could not be used. Please ask a member of staff.",
    ),
    "bad_certificate": (
        "カードの電子証明書を読み取れませんでした。係員にお尋ねください。",
        "The certificate on your card could not be read. Please ask a member of staff.",
    ),
    "bad_card_signature": (
        "カードの確認がうまくいきませんでした。カードを取り、もう一度やり直してください。",
        "Your card could not be checked. Take your card and start again.",
    ),
    "under_age": (
        "この選挙の投票日に18歳になっていないため、投票できません。",
        "You cannot vote in this election: you will not be 18 on election day.",
    ),
    "other_municipality": (
        "カードの住所がこの市区町村ではないため、この選挙では投票できません。"
        "住所のある市区町村の選挙で投票してください。",
        "The address on your card is not in this municipality, so you cannot vote in this "
        "election. Please vote where you live.",
    ),
    "not_on_roll": (
        "選挙人名簿にお名前が見つかりません。係員にお尋ねください。",
        "You are not on the electoral roll. Please ask a member of staff.",
    ),
    "moved_address": (
        "名簿の住所とカードの住所がちがいます（引っ越しされましたか）。係員にお尋ねください。",
        "The address on the roll and on your card differ (have you moved?). "
        "Please ask a member of staff.",
    ),
    "different_certificate": (
        "あなたには、別のカードで投票の受付がすでにされています。係員にお尋ねください。",
        "You were already given a ballot with another card. Please ask a member of staff.",
    ),
    "different_request": (
        "あなたの投票の受付はすでに別の形でされています。係員にお尋ねください。",
        "You were already given a ballot in another way. Please ask a member of staff.",
    ),
    "degenerate_blinded_token": (
        "端末で問題が起きました。係員をお呼びください。",
        "The kiosk had a problem. Please call a member of staff.",
    ),
    "bad_blinded_token": (
        "端末で問題が起きました。係員をお呼びください。",
        "The kiosk had a problem. Please call a member of staff.",
    ),
    # The contract's refusals of a cast (kiosk.core.casting.CastRefused names them).
    "WrongPhase": (
        "いまは投票を受け付ける時間ではありません。係員にお尋ねください。",
        "Voting is not open right now. Please ask a member of staff.",
    ),
    "TokenAlreadyUsed": (
        "このカードによる投票は、すでに受け付けられています。",
        "A ballot from this card has already been received.",
    ),
    "BallotAlreadyCast": (
        "この投票はすでに記録されています。",
        "This ballot is already recorded.",
    ),
    "BallotWasChallenged": (
        "この投票は確かめるために公開済みのため、投じられません。選びなおしてください。",
        "This ballot was published for checking, so it cannot be cast. Please start again.",
    ),
    "NotKiosk": (
        "この端末は登録されていません。係員をお呼びください。",
        "This kiosk is not registered. Please call a member of staff.",
    ),
    "InvalidRegistrarSignature": (
        "投票の受付を確認できませんでした。係員をお呼びください。",
        "Your ballot's permission could not be checked. Please call a member of staff.",
    ),
    "InvalidBindingSignature": (
        "端末で問題が起きました。係員をお呼びください。",
        "The kiosk had a problem. Please call a member of staff.",
    ),
    "EmptyBallot": (
        "端末で問題が起きました。係員をお呼びください。",
        "The kiosk had a problem. Please call a member of staff.",
    ),
    "ballot_pending": (
        "このカードの投票は、この端末から送信中です。もう一度投票する必要はありません。",
        "A ballot from this card is already being sent by this kiosk. "
        "You do not need to vote again.",
    ),
}

_FALLBACK = (
    "投票を受け付けられませんでした。係員にお尋ねください。",
    "Your vote could not be accepted. Please ask a member of staff.",
)


def tr(key: str, lang: Lang, **values: object) -> str:
    ja, en = TEXT[key]
    text = ja if lang is Lang.JA else en
    return text.format(**values) if values else text


def refusal_text(code: str, lang: Lang, message_ja: str = "", message_en: str = "") -> str:
    """The voter's plain sentence for a refusal code; the registrar's own message for a code
    this catalogue does not know yet (a newer registrar), else a general one."""
    if code in REFUSALS:
        pair = REFUSALS[code]
    elif message_ja or message_en:
        pair = (message_ja or message_en, message_en or message_ja)
    else:
        pair = _FALLBACK
    return pair[0] if lang is Lang.JA else pair[1]


def both(key: str, **values: object) -> str:
    """Japanese, then English (on the welcome screen, before a language is chosen)."""
    return "\n".join(tr(key, lang, **values) for lang in LANGUAGES)
