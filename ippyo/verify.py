"""`ippyo verify`: re-check an exported election record, independently of every server."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from election.errors import ElectionError, InvalidRecord
from election.record import ElectionRecord, VerificationReport, verify_record

EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


@click.command(
    epilog=(
        "Exit status: 0 the record verifies; 1 the record is readable but invalid (each failed "
        "check is printed as 'FAIL <check name>' with its reason, the names being those of "
        "docs/election-record.md); 2 the record cannot be read (not a file, not JSON, not an "
        "ippyo/election-record version 2, or a field is malformed — the message names its "
        "JSON path)."
    )
)
@click.argument("record", type=click.Path(dir_okay=False, path_type=Path))
def verify(record: Path) -> None:
    """Verify the election record RECORD (JSON): exit 0 valid, 1 invalid, 2 unreadable."""
    try:
        data = record.read_bytes()
    except OSError as exc:
        click.echo(f"読み込めません / cannot read the record: {exc.strerror}: {record}", err=True)
        sys.exit(EXIT_UNREADABLE)
    try:
        parsed = ElectionRecord.from_json(data)
    except ElectionError as exc:
        click.echo(f"読み込めません / cannot read the record: {exc}", err=True)
        sys.exit(EXIT_UNREADABLE)
    except Exception as exc:  # the parser is total (fuzzed); a last guard against a traceback
        click.echo(f"読み込めません / cannot read the record (parser error): {exc!r}", err=True)
        sys.exit(EXIT_UNREADABLE)
    click.echo(f"{parsed.manifest.name_ja} / {parsed.manifest.name_en}")
    try:
        report = verify_record(parsed)
    except InvalidRecord as exc:
        report_of = exc.report
        click.echo(report_of.summary() if isinstance(report_of, VerificationReport) else str(exc))
        click.echo("検証失敗 / VERIFICATION FAILED")
        sys.exit(EXIT_INVALID)
    except ElectionError as exc:
        click.echo(f"FAIL {exc}")
        click.echo("検証失敗 / VERIFICATION FAILED")
        sys.exit(EXIT_INVALID)
    click.echo(report.summary())
    click.echo("検証成功 / the record verifies")
    sys.exit(EXIT_VALID)
