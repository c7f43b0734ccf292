"""Kiosk fixtures: pcscd + the virtual card, the registrar service over HTTP, the embedded
chain — all from the importable helpers in :mod:`kiosk.testing`."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from card_reader.stack import ensure_pcscd, stop_pcscd
from election.manifest import Manifest
from kiosk.testing import (
    EmbeddedElection,
    LiveRegistrar,
    ReaderSlot,
    embedded_election,
    exclusive_reader,
    registrar_service,
    test_manifest,
)


@pytest.fixture(scope="session")
def pcscd() -> Iterator[None]:
    started = ensure_pcscd()
    yield
    stop_pcscd(started)


@pytest.fixture(scope="session")
def manifest() -> Manifest:
    return test_manifest()


@pytest.fixture(scope="module")
def registrar(
    tmp_path_factory: pytest.TempPathFactory, manifest: Manifest
) -> Iterator[LiveRegistrar]:
    with registrar_service(tmp_path_factory.mktemp("registrar"), manifest) as live:
        yield live


@pytest.fixture(scope="module")
def election(manifest: Manifest, registrar: LiveRegistrar) -> EmbeddedElection:
    return embedded_election(manifest, registrar.public_key)


@pytest.fixture
def slot(pcscd: None) -> Iterator[ReaderSlot]:
    reader = ReaderSlot()
    with exclusive_reader(reader.index):  # one test run at a time on this reader
        yield reader
        reader.pull()
    # PcscCard.connect leaves a PC/SC context for the garbage collector when it refuses a
    # card (none inserted, not JPKI): release it now, while pcscd still runs, not at exit.
    gc.collect()


@pytest.fixture
def outbox_dir(tmp_path: Path) -> Path:
    return tmp_path / "outbox"
