"""The demo's narration: the runner's :class:`~ippyo.demo_run.Event` values in words,
Japanese first and English second. Nothing here changes what the demo does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ippyo.demo_run import DemoOutcome, Event, VoterOutcome
from ippyo.scenario import Behaviour, Scenario

STAGES = {
    "services": ("準備", "services start"),
    "ceremony": ("鍵生成式", "key ceremony"),
    "registrar": ("選挙人名簿と登録機関", "the roll and the registrar"),
    "deploy": ("投票箱の配備と投票開始", "deploy the ballot box and open"),
    "voting": ("投票", "voting"),
    "close": ("投票終了", "close"),
    "decryption": ("開票（復号）", "tally and decryption"),
    "publication": ("選挙記録の公開", "the record, published on chain"),
    "verification": ("検証", "verification"),
}

BEHAVIOURS = {
    Behaviour.NORMAL: ("投票", "voted"),
    Behaviour.CHECKS: ("投票用紙を確認してから投票", "checked a ballot, then voted"),
    Behaviour.MISTYPES: (
        "暗証番号を1回まちがえてから投票",
        "mistyped the password once, then voted",
    ),
    Behaviour.LOCKS: ("暗証番号を5回まちがえてロック", "mistyped the password five times: locked"),
    Behaviour.KIOSK_CRASH: ("投票中に端末3が停止", "kiosk 3 crashed during the vote"),
    Behaviour.CORRUPT_PROOF: ("故障した端末で投票", "voted at a broken kiosk"),
    Behaviour.DOUBLE_VOTE: ("投票し、あとで再び来場", "voted, and came back later"),
    Behaviour.UNDER_AGE: ("17歳", "is 17"),
    Behaviour.OTHER_MUNICIPALITY: ("土浦市民", "lives in Tsuchiura"),
    Behaviour.REVOKED: ("紛失届の出たカード", "a card reported lost"),
    Behaviour.NOT_ON_ROLL: ("名簿に未登録", "not on the roll"),
}

SCREENS = {
    "receipt": ("受付票", "receipt"),
    "refused": ("お断り", "refused"),
    "help_desk": ("受付窓口へ", "sent to the help desk"),
    "already_voted": ("投票済み", "already voted"),
    "queued": ("送信待ち", "queued"),
}


class Narrator:
    """Prints each event as it happens (``say`` is ``click.echo`` in the CLI)."""

    def __init__(self, say: Callable[[str], None], *, every_voter: bool = False) -> None:
        self.say = say
        self.every_voter = every_voter
        self._count = 0

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"_{event.kind}", None)
        if handler is not None:
            handler(**event.data)

    # --- stages --------------------------------------------------------------------------------
    def _election(self, name_ja: str, name_en: str, date: str, voters: int, chain: str) -> None:
        where = {"embedded": "組み込みチェーン / embedded chain (eth-tester)",
                 "devnet": "geth 3ノード / 3 geth nodes (Clique)"}[chain]  # fmt: skip
        self.say(f"■ {name_ja} / {name_en}  ({date}) — {voters} 人 / voters, {where}")

    def _stage(self, name: str) -> None:
        self._count += 1
        ja, en = STAGES[name]
        self.say(f"{self._count}. {ja} / {en}")

    def _stage_done(self, name: str, seconds: float) -> None:
        self.say(f"   ({seconds:.1f} s)")

    # --- services ------------------------------------------------------------------------------
    def _chain(self, kind: str, urls: list[str], chain_id: int) -> None:
        self.say(f"   チェーン / chain: {kind}, chain id {chain_id}, {', '.join(urls)}")

    def _tally_server(self, url: str, database: str) -> None:
        self.say(f"   集計サーバ / tally server: {url}  ({database})")

    def _card_reader(self, readers: list[str], started: bool) -> None:
        how = "started" if started else "already running"
        names = ", ".join(repr(r) for r in readers)
        self.say(f"   カードリーダ / card readers: pcscd + vpcd, {names} (pcscd {how})")

    def _ceremony_step(self, step: str, trustees: int) -> None:
        self.say(f"   ippyo trustee {step} ×{trustees}")

    def _ceremony_done(self, trustees: int, quorum: int, joint_key: str) -> None:
        self.say(
            f"   管理者{trustees}人のうち{quorum}人で復号できる選挙鍵 / election key, any "
            f"{quorum} of {trustees} trustees decrypt: {joint_key[:16]}…"
        )

    def _registrar(self, url: str, on_roll: int, revoked: int, cards: int) -> None:
        self.say(
            f"   登録機関 / registrar {url}: 名簿 {on_roll} 人 / {on_roll} on the roll; "
            f"失効 {revoked} / {revoked} revoked; テストカード {cards} 枚 / {cards} TEST cards"
        )

    def _deployed(self, contract: str, block: int) -> None:
        self.say(
            f"   職員がダッシュボードで配備・開始 / an official deployed and opened from the "
            f"dashboard: BallotBox {contract} (block {block})"
        )

    # --- voting --------------------------------------------------------------------------------
    def _voter(self, outcome: VoterOutcome, kiosk: int) -> None:
        v = outcome.voter
        if v.behaviour is Behaviour.NORMAL and not self.every_voter:
            return
        ja, en = BEHAVIOURS[v.behaviour]
        screen = SCREENS.get(outcome.state, (outcome.state, outcome.state))
        extra = ""
        if outcome.refusal:
            extra = f" — {outcome.refusal}"
        if outcome.tries_left:
            extra += f" — 残り回数 / tries left {' → '.join(map(str, outcome.tries_left))}"
        if outcome.checked_code:
            extra += f" — 確認した票 / checked {outcome.checked_code[:9]}…"
        if outcome.tracking_code:
            extra += f" — {outcome.tracking_code[:9]}…"
        self.say(
            f"   {v.number:3} {v.name} [端末 / kiosk {kiosk}]: {ja} / {en} → {screen[0]} / "
            f"{screen[1]}{extra} ({outcome.seconds:.1f} s)"
        )

    def _kiosk_killed(self, voter: int, outbox: int) -> None:
        self.say(
            f"       端末3を強制終了（署名済みの票は送信箱に {outbox} 件）/ kiosk 3 killed "
            f"(SIGKILL) with {outbox} signed ballot in its outbox"
        )

    def _kiosk_restarted(self, voter: int, settled: list[str], state: str) -> None:
        settled = list(dict.fromkeys(settled))  # re-sent until confirmed: say each step once
        self.say(
            f"       再起動: 送信箱を送信 {settled} → 再来場の投票者に「{state}」/ restarted: "
            f"outbox settled {settled}; the voter, trying again, sees {state}"
        )

    def _second_visit(self, outcome: VoterOutcome, kiosk: int) -> None:
        screen = SCREENS.get(str(outcome.second_visit), (outcome.second_visit, ""))
        self.say(
            f"   {outcome.voter.number:3} {outcome.voter.name} [端末 / kiosk {kiosk}]: "
            "もう一度来場 / came back → "
            f"{screen[0]} / {screen[1]}"
        )

    def _forged_token(self, name: str, ja: str, en: str) -> None:
        self.say(
            f"   偽の投票券 / a forged token: 契約が拒否 / the contract refused — "
            f"{name}: {ja} / {en}"
        )

    def _window(self, config: str, pin: str) -> None:
        self.say(
            f"   投票端末の画面を開きます（暗証番号 {pin}、閉じると続行）/ the kiosk window "
            f"opens (password {pin}; close it to go on): {config}"
        )

    def _window_closed(self, code: int) -> None:
        self.say(f"   端末の画面を閉じました / the kiosk window closed (exit {code})")

    # --- after the polls -----------------------------------------------------------------------
    def _indexed(self, **counts: Any) -> None:
        self.say(
            f"   索引 / index: {counts['ballots']} 票 / ballots, {counts['counted']} 有効 / "
            f"counted, {counts['excluded']} 除外 / excluded, {counts['checked']} 確認 / checked"
        )

    def _tally_handed_over(self, text: str) -> None:
        self.say(f"   ippyo trustee tally: {text}")

    def _trustee_absent(self, index: int) -> None:
        self.say(f"   管理者 {index} は欠席 / trustee {index} is absent")

    def _trustee_decrypted(self, index: int) -> None:
        self.say(
            f"   管理者 {index}: チェーンから集計を再計算して復号 / trustee {index} recomputed "
            "the tally from the chain and decrypted"
        )

    def _published(self, record: str, size: int, sha: str) -> None:
        self.say(f"   {record} ({size} bytes), SHA-256 {sha[:16]}… をチェーンに公開 / published")

    def _server_result(self, checks_ok: bool, checks: list[dict[str, Any]]) -> None:
        ok = sum(1 for c in checks if c["status"] == "ok")
        self.say(f"   集計サーバの検証 / the tally server's checks: {ok} of {len(checks)} OK")

    def _verified(self, code: int, output: str) -> None:
        self.say(f"   ippyo verify --rpc … --record … → exit {code}")


def result_table(scenario: Scenario, outcome: DemoOutcome) -> list[str]:
    lines = []
    for contest, row in zip(scenario.manifest.contests, outcome.result, strict=True):
        lines.append(f"   {contest.title_ja} / {contest.title_en}")
        ranked = sorted(zip(contest.options, row, strict=True), key=lambda x: -x[1])
        for option, n in ranked:
            lines.append(f"     {n:4}  {option.name_ja} / {option.name_en}")
    return lines


def summary(scenario: Scenario, outcome: DemoOutcome) -> list[str]:
    """The closing summary: result, verification, figures and URLs."""
    lines = ["結果 / result"]
    lines += result_table(scenario, outcome)
    lines.append(
        f"   投票 {outcome.ballots_on_chain} 件（除外 {len(outcome.excluded)}）、確認した票 "
        f"{outcome.checked_on_chain} 件 / {outcome.ballots_on_chain} ballots on chain "
        f"({len(outcome.excluded)} excluded), {outcome.checked_on_chain} checked ballots"
    )
    for seq, reason in outcome.excluded:
        lines.append(f"   除外 / excluded #{seq}: {reason}")
    lines.append("検証 / verification (ippyo verify --rpc, its own process)")
    lines += ["   " + line for line in outcome.verify_output.strip().splitlines()]
    verdict = "検証済み / verified" if outcome.verified else "検証失敗 / NOT verified"
    lines.append(f"   → {verdict}")
    lines.append("所要時間 / time per stage")
    total = sum(outcome.stage_seconds.values())
    for name, seconds in outcome.stage_seconds.items():
        lines.append(f"   {STAGES[name][1]:<32} {seconds:6.1f} s")
    lines.append(f"   {'total':<32} {total:6.1f} s")
    lines.append("URL")
    labels = {"dashboard": "職員ダッシュボード / officials' dashboard",
              "observer": "監視者ポータル / observer portal",
              "result": "結果 / result", "receipt": "受付票の照会 / a receipt"}  # fmt: skip
    for key, url in outcome.urls.items():
        lines.append(f"   {labels.get(key, key)}: {url}")
    return lines
