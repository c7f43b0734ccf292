"""Only kiosk/ui/ may import Qt: the core runs in the demo, load tests and headless tests."""

from __future__ import annotations

import ast
from pathlib import Path

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"


def qt_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [n for n in names if n.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "shiboken6")]
    return found


def test_the_core_does_not_import_qt() -> None:
    files = [p for p in KIOSK.rglob("*.py") if "ui" not in p.relative_to(KIOSK).parts[:1]]
    assert len(files) >= 5
    offenders = {str(p.relative_to(KIOSK)): qt_imports(p) for p in files if qt_imports(p)}
    assert offenders == {}


def test_the_scan_sees_a_qt_import(tmp_path: Path) -> None:
    sample = tmp_path / "window.py"
    sample.write_text("from PySide6.QtWidgets import QWidget\nimport PySide6\n")
    assert qt_imports(sample) == ["PySide6.QtWidgets", "PySide6"]
