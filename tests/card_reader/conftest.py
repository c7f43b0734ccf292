"""A real PC/SC stack for the card tests: pcscd (reused if running), vpcd, the virtual card."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from card_reader.errors import CardNotPresent
from card_reader.pcsc import wait_for_reader_state
from card_reader.stack import VIRTUAL_READER, ensure_pcscd, stop_pcscd
from card_reader.testpki import CertificateAuthority, Resident, VoterCard, make_card
from card_reader.virtual_card import JPKIApplet, VpcdCard

READER = VIRTUAL_READER


@pytest.fixture(scope="session")
def pcscd() -> Iterator[None]:
    """pcscd with the vpcd driver; reuse a running one, else start one and stop only it."""
    started = ensure_pcscd()
    yield
    stop_pcscd(started)


@pytest.fixture(scope="session")
def sign_ca() -> CertificateAuthority:
    return CertificateAuthority.create()


@pytest.fixture(scope="session")
def card_template(sign_ca: CertificateAuthority) -> VoterCard:
    return make_card(sign_ca, Resident(), sign_pin="ABC123")


@pytest.fixture
def card(pcscd: None, card_template: VoterCard) -> Iterator[VpcdCard]:
    """A fresh card (full PIN tries) in the virtual reader for each test."""
    served = _insert(card_template.to_image())
    yield served
    served.remove()
    wait_for_card(present=False)
    # vpcd accepts the next card only after pcscd's next presence poll (~0.4 s) has seen
    # this one go; a person cannot re-insert faster than this either.
    time.sleep(1.0)


@pytest.fixture
def insert_card(pcscd: None) -> Iterator[Callable[[dict[str, Any]], VpcdCard]]:
    """Insert a card made from a given image (at most one per test); removed afterwards."""
    served: list[VpcdCard] = []

    def insert(image: dict[str, Any]) -> VpcdCard:
        assert not served, "one card per test"
        card = _insert(image)
        served.append(card)
        return card

    yield insert
    for card in served:
        card.remove()
        wait_for_card(present=False)
        time.sleep(1.0)


def _insert(image: dict[str, Any]) -> VpcdCard:
    """Insert a card; if pcscd has not seen it after 5 s (vpcd still settling after the
    previous card on a loaded machine), pull it and insert it once more."""
    for attempt in (1, 2):
        card = VpcdCard(JPKIApplet(image))
        card.insert()
        try:
            wait_for_card(present=True)
            return card
        except CardNotPresent:
            card.remove()
            if attempt == 2:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")


def wait_for_card(present: bool, timeout: float = 5.0) -> None:
    wait_for_reader_state(READER, present, timeout)
