"""``ippyo demo``: the whole election with the real components, on the embedded default or on
three geth nodes (``--devnet``). The scenario is :mod:`ippyo.scenario`, the runner
:mod:`ippyo.demo_run`, the words :mod:`ippyo.narrate` (docs/demo.md)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import click

from ippyo.demo_run import OFFICIAL, DemoError, DemoRun
from ippyo.narrate import Narrator, summary
from ippyo.scenario import MAX_VOTERS, MIN_VOTERS, build_scenario, expected_result


@click.command()
@click.option("--voters", default=50, show_default=True, help="How many people come to vote.")
@click.option("--seed", default=2018, show_default=True, help="Seed of the scenario.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Where the services keep their files (emptied first). The record is written here.",
)
@click.option("--devnet", is_flag=True, help="Run on three geth nodes instead of eth-tester.")
@click.option("--serve", is_flag=True, help="Keep the servers up afterwards (Ctrl-C stops).")
@click.option(
    "--kiosk", "kiosk_window", is_flag=True, help="Open the real kiosk window for one more voter."
)
@click.option("--every-voter", is_flag=True, help="Narrate every voter, not only the unusual.")
def demo(
    voters: int,
    seed: int,
    workdir: Path,
    devnet: bool,
    serve: bool,
    kiosk_window: bool,
    every_voter: bool,
) -> None:
    """模擬選挙 / Run a whole demo election through the real components and verify it."""
    if not MIN_VOTERS <= voters <= MAX_VOTERS:
        raise click.BadParameter(
            f"at least {MIN_VOTERS} and at most {MAX_VOTERS}", param_hint="--voters"
        )
    scenario = build_scenario(voters, seed)
    narrator = Narrator(click.echo, every_voter=every_voter)
    # SIGTERM unwinds like Ctrl-C: every service the demo started is stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with DemoRun(
            scenario, workdir, devnet=devnet, listener=narrator, kiosk_window=kiosk_window
        ) as run:
            outcome = run.play()
            for line in summary(scenario, outcome):
                click.echo(line)
            if not kiosk_window:  # the window's voter chose freely; otherwise compare
                same = outcome.result == expected_result(scenario)
                click.echo(
                    "   投票者の選択と一致 / matches what the voters chose"
                    if same
                    else "   投票者の選択と一致しません / DIFFERS from what the voters chose"
                )
                if not same:
                    raise SystemExit(1)
            if not outcome.verified:
                raise SystemExit(1)
            if serve:
                secret = workdir / "official-password.txt"  # written (0600) before it is named
                fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(outcome.official_password + "\n")
                click.echo(
                    f"ログイン / log in as {OFFICIAL!r}, password {outcome.official_password!r} "
                    f"(also in {secret}); Ctrl-C で終了 / to stop"
                )
                _wait_for_interrupt()
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _wait_for_interrupt() -> None:
    """Until Ctrl-C or SIGTERM (both arrive as KeyboardInterrupt)."""
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
