"""An outside check: OpenSC's own tools recognise the virtual card as a JPKI card."""

from __future__ import annotations

import subprocess

from card_reader.virtual_card import VpcdCard


def test_opensc_tool_names_the_jpki_driver(card: VpcdCard) -> None:
    result = subprocess.run(["opensc-tool", "-n"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "jpki"


def test_pkcs15_tool_dumps_the_jpki_objects(card: VpcdCard) -> None:
    result = subprocess.run(["pkcs15-tool", "-D"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "PKCS#15 Card [JPKI]" in out
    assert "Digital Signature PIN" in out and "Tries left     : 5" in out
    assert "Digital Signature Key" in out and "ModLength      : 2048" in out
