"""`ippyo verify`: re-check an election independently of every server.

``ippyo verify RECORD`` checks an exported record file; ``ippyo verify --rpc URL [--rpc URL…]
--contract ADDR [--record FILE]`` rebuilds the record from the chain alone (docs/verify.md).
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from election.errors import ElectionError, InvalidRecord
from election.record import ElectionRecord, VerificationReport, verify_record
from election.validity import BallotChecker
from ippyo.progress import Progress

EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")

EPILOG = (
    "Exit status: 0 the record verifies (every check passes); 1 the record is readable but "
    "invalid — each failed check is printed as 'FAIL <check name>' with its reasons (the names "
    "of docs/election-record.md and docs/verify.md: with --rpc also 'nodes agree', "
    "'publication', 'contract', 'chain anchor', and with --record 'record hash', 'record "
    "ballots', 'record sections'); 2 the record cannot be read or the chain cannot be reached "
    "— a record file that is not a file, not JSON, not an ippyo/election-record version 2 or "
    "has a malformed field (the message names its JSON path), an RPC node that does not "
    "answer or serves a ballot whose calldata does not match its event, an address that holds "
    "no BallotBox contract, or wrong arguments."
)


def _unreadable(message: str) -> None:
    click.echo(f"読み込めません / {message}", err=True)
    sys.exit(EXIT_UNREADABLE)


def _read_record(path: Path) -> tuple[bytes, ElectionRecord]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        _unreadable(f"cannot read the record: {exc.strerror}: {path}")
        raise  # unreachable
    try:
        return data, ElectionRecord.from_json(data)
    except ElectionError as exc:
        _unreadable(f"cannot read the record: {exc}")
        raise
    except Exception as exc:  # the parser is total (fuzzed); a last guard against a traceback
        _unreadable(f"cannot read the record (parser error): {exc!r}")
        raise


def _finish(report: VerificationReport) -> None:
    click.echo(report.summary())
    if report.ok:
        click.echo("検証成功 / the record verifies: every check passes")
        sys.exit(EXIT_VALID)
    click.echo(f"検証失敗 / VERIFICATION FAILED: {', '.join(report.failed())}")
    sys.exit(EXIT_INVALID)


@click.command(epilog=EPILOG)
@click.argument("record", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--rpc",
    "rpc",
    multiple=True,
    metavar="URL",
    help="A chain node's JSON-RPC URL; repeat to query several (they must all agree).",
)
@click.option("--contract", metavar="ADDR", help="The BallotBox contract's address (with --rpc).")
@click.option(
    "--record",
    "record_opt",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --rpc: also prove that this published record holds exactly the chain's ballots.",
)
@click.option(
    "--from-block",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="With --rpc: first block searched for the result publication.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Processes checking ballot proofs (default: every core).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal).",
)
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per RPC request.")
def verify(
    record: Path | None,
    rpc: tuple[str, ...],
    contract: str | None,
    record_opt: Path | None,
    from_block: int,
    workers: int | None,
    progress: bool | None,
    timeout: float,
) -> None:
    """Verify an election: the record file RECORD, or (--rpc) the chain itself.

    Exit 0 valid, 1 invalid (the failed checks named), 2 unreadable or unreachable.
    """
    from ippyo.parallel import pool_checker

    bar = Progress(sys.stderr.isatty() if progress is None else progress)
    if not rpc:
        if contract is not None or record_opt is not None:
            raise click.UsageError("--contract and --record go with --rpc")
        if record is None:
            raise click.UsageError("give a RECORD file, or --rpc URL --contract ADDR")
        _verify_file(record, bar, pool_checker(workers, bar.update))
        return
    if contract is None or not _ADDRESS.fullmatch(contract):
        raise click.UsageError("--rpc needs --contract 0x… (20 bytes in hex)")
    if record is not None and record_opt is not None:
        raise click.UsageError("give the record file once (RECORD or --record)")
    file_path = record_opt or record
    _verify_rpc(list(rpc), contract, file_path, from_block, timeout, bar, workers)


def _verify_file(record: Path, bar: Progress, checker: BallotChecker) -> None:
    _, parsed = _read_record(record)
    click.echo(f"{parsed.manifest.name_ja} / {parsed.manifest.name_en}")
    bar.stage("ballots' signatures and proofs", len(parsed.ballots))
    try:
        report = verify_record(parsed, checker=checker)
    except InvalidRecord as exc:
        bar.done()
        report_of = exc.report
        if isinstance(report_of, VerificationReport):
            _finish(report_of)
        click.echo(f"FAIL {exc}")
        sys.exit(EXIT_INVALID)
    except ElectionError as exc:
        bar.done()
        click.echo(f"FAIL {exc}")
        click.echo("検証失敗 / VERIFICATION FAILED")
        sys.exit(EXIT_INVALID)
    bar.done()
    _finish(report)


def _verify_rpc(
    urls: list[str],
    contract: str,
    record_path: Path | None,
    from_block: int,
    timeout: float,
    bar: Progress,
    workers: int | None,
) -> None:
    from contracts.chain import ChainError, ChainUnavailable, rpc_error_message
    from ippyo.chainview import NodeView, read_node
    from ippyo.parallel import pool_checker
    from ippyo.verify_rpc import verify_chain

    record_file = _read_record(record_path)[0] if record_path is not None else None
    # Every node at once (each answers for itself; reading is waiting on the network).
    bar.stage(f"reading {len(urls)} node(s): ballots")
    lock = threading.Lock()
    done: dict[str, tuple[int, int]] = {}

    def progress_of(url: str) -> Callable[[int, int], None]:
        def report(count: int, total: int) -> None:
            with lock:
                done[url] = (count, total)
                bar.update(sum(c for c, _ in done.values()), sum(t for _, t in done.values()))

        return report

    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        futures = [
            pool.submit(
                read_node,
                url,
                contract,
                from_block=from_block,
                timeout=timeout,
                progress=progress_of(url),
            )
            for url in urls
        ]
        views: list[NodeView] = []
        for url, future in zip(urls, futures, strict=True):
            try:
                views.append(future.result())
            except ChainUnavailable as exc:
                bar.done()
                _unreadable(f"node {url} does not answer: {exc}")
            except ChainError as exc:  # e.g. a ballot's calldata that does not match its event
                bar.done()
                _unreadable(f"node {url}: the chain cannot be read: {exc}")
            except Exception as exc:  # no contract there, or a node answering nonsense
                bar.done()
                _unreadable(
                    f"node {url}: no readable BallotBox at {contract} ({rpc_error_message(exc)})"
                )
    bar.done()
    address = bytes.fromhex(contract[2:])
    view = views[0]
    click.echo(
        f"{len(urls)} node(s), chain id {view.chain_id}, contract {contract}: "
        f"{view.ballot_count} ballots, {view.checked_count} checked ballots, "
        f"phase {view.phase.name.lower()}"
    )

    def stage(name: str) -> None:
        if name == "ballots":
            bar.stage("ballots' signatures and proofs", len(view.ballots))
        else:
            bar.stage(name)

    try:
        report, record = verify_chain(
            views,
            address,
            record_file=record_file,
            checker=pool_checker(workers, bar.update),
            progress=stage,
        )
    except ChainError as exc:
        bar.done()
        _unreadable(f"a node failed while reading: {exc}")
        raise
    bar.done()
    if record is not None:
        click.echo(f"{record.manifest.name_ja} / {record.manifest.name_en}")
    _finish(report)
