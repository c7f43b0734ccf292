"""A real PC/SC stack for the card tests: pcscd (reused if running), vpcd, the virtual card."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

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
    served = VpcdCard(JPKIApplet(card_template.to_image()))
    served.insert()
    wait_for_card(present=True)
    yield served
    served.remove()
    wait_for_card(present=False)
    # vpcd accepts the next card only after pcscd's next presence poll (~0.4 s) has seen
    # this one go; a person cannot re-insert faster than this either.
    time.sleep(1.0)


def wait_for_card(present: bool, timeout: float = 5.0) -> None:
    wait_for_reader_state(READER, present, timeout)
