"""`ippyo verify`: re-check an exported election record, independently of every server."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from election.errors import ElectionError, InvalidRecord
from election.record import ElectionRecord, verify_record


@click.command()
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify(record: Path) -> None:
    """Verify the election record RECORD (JSON); exit 1 on any failure."""
    try:
        parsed = ElectionRecord.from_json(record.read_bytes())
    except ElectionError as exc:
        click.echo(f"読み込めません / cannot read the record: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{parsed.manifest.name_ja} / {parsed.manifest.name_en}")
    try:
        report = verify_record(parsed)
    except InvalidRecord as exc:
        click.echo(exc.report.summary() if exc.report is not None else str(exc))
        click.echo("検証失敗 / VERIFICATION FAILED")
        sys.exit(1)
    click.echo(report.summary())
    click.echo("検証成功 / the record verifies")
