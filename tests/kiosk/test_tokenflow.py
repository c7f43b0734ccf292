"""The one token flow's own refusals, against the real registrar service and card."""

from __future__ import annotations

from pathlib import Path

import pytest

from election.manifest import manifest_from_dict
from kiosk.core.tokenflow import ElectionMismatch, obtain_token, pinned_key_of
from kiosk.testing import (
    TEST_MANIFEST,
    EmbeddedElection,
    LiveRegistrar,
    ReaderSlot,
    new_resident,
    registrar_service,
)

SIGN = 0x2A


def test_a_registrar_serving_another_election_is_refused_before_the_card_signs(
    election: EmbeddedElection, registrar: LiveRegistrar, slot: ReaderSlot, tmp_path: Path
) -> None:
    other = manifest_from_dict({**TEST_MANIFEST, "id": "another-election-2026"})
    assert other.election_id != election.context.election_id
    with registrar_service(tmp_path / "other", other) as elsewhere:
        applet = slot.insert(registrar.card(new_resident()))
        with slot.open() as card:
            card.verify_signature_pin("ABC123")
            pinned = pinned_key_of(*election.box.registrar_key())
            with pytest.raises(ElectionMismatch):
                obtain_token(card, elsewhere.client, election.context.election_id, pinned)
    assert not any(c[1] == SIGN for c in applet.received)
