"""`election/` does no I/O: it imports no web, UI, chain, card or network library."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {
    "flask",
    "PySide6",
    "web3",
    "eth_tester",
    "smartcard",
    "pkcs11",
    "socket",
    "requests",
    "urllib",
    "http",
    "sqlalchemy",
    "subprocess",
    "card_reader",
    "registrar",
    "kiosk",
    "tally_server",
    "contracts",
    "devnet",
    "ippyo",
    "os",
    "pathlib",
    "shutil",
    "time",
}
ROOT = Path(__file__).resolve().parents[2] / "election"


def test_election_imports_nothing_impure() -> None:
    offences = []
    files = sorted(ROOT.rglob("*.py"))
    assert len(files) >= 10
    for path in files:
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offences += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offences == []
