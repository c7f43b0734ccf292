"""A card PcscCard.connect refuses (none in the reader, not a My Number card) leaves no PC/SC
context behind: each is released at once, not by the garbage collector (perhaps after pcscd
has gone)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import pytest
from smartcard.pcsc.PCSCCardConnection import PCSCCardConnection

from card_reader.errors import CardNotPresent, NotJPKICard
from card_reader.pcsc import PcscCard, wait_for_reader_state
from card_reader.stack import VIRTUAL_READER
from card_reader.testpki import VoterCard
from card_reader.virtual_card import JPKIApplet, VpcdCard


def live_contexts() -> list[PCSCCardConnection]:
    """pyscard connections to the virtual reader still holding a PC/SC context."""
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, PCSCCardConnection)
        and o.hcontext is not None
        and str(o.reader) == VIRTUAL_READER
    ]


class OtherCard(JPKIApplet):
    def process(self, command: bytes) -> bytes:
        return b"\x6a\x82"  # every application: not found


@pytest.fixture
def no_collector() -> Iterator[None]:
    """Only explicit releases count: the cycle collector may not tidy up behind the code."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def test_refused_cards_leave_no_pcsc_context(
    pcscd: None, card_template: VoterCard, no_collector: None
) -> None:
    before = len(live_contexts())
    with pytest.raises(CardNotPresent):
        PcscCard.connect(VIRTUAL_READER)  # the reader is empty
    assert len(live_contexts()) == before
    served = VpcdCard(OtherCard(card_template.to_image()))
    served.insert()
    try:
        wait_for_reader_state(VIRTUAL_READER, True)
        with pytest.raises(NotJPKICard):
            PcscCard.connect(VIRTUAL_READER)
        assert len(live_contexts()) == before
    finally:
        served.remove()
        wait_for_reader_state(VIRTUAL_READER, False)
        time.sleep(1.0)  # vpcd takes the next card only after pcscd's next presence poll


def test_an_accepted_card_holds_its_context_until_closed(
    pcscd: None, card_template: VoterCard, no_collector: None
) -> None:
    before = len(live_contexts())
    served = VpcdCard(JPKIApplet(card_template.to_image()))
    served.insert()
    try:
        wait_for_reader_state(VIRTUAL_READER, True)
        card = PcscCard.connect(VIRTUAL_READER)
        assert len(live_contexts()) == before + 1
        card.close()
        assert len(live_contexts()) == before
    finally:
        served.remove()
        wait_for_reader_state(VIRTUAL_READER, False)
        time.sleep(1.0)
