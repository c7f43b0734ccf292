"""Both backends (pyscard APDUs and OpenSC's PKCS#11) through the real stack: pcscd + vpcd +
the virtual card. One conformance class, two subclasses."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from card_reader.abc import JPKICard
from card_reader.certificate import (
    POLICY_SIGNATURE,
    POLICY_SIGNATURE_TEST,
    parse_signature_certificate,
)
from card_reader.errors import (
    CardRemoved,
    InvalidPinFormat,
    NotJPKICard,
    PinLocked,
    SecurityStatusNotSatisfied,
    WrongPin,
)
from card_reader.pcsc import PcscCard, wait_for_reader_state
from card_reader.pkcs11 import Pkcs11Card
from card_reader.testpki import CertificateAuthority, VoterCard, make_card
from card_reader.virtual_card import JPKIApplet, VpcdCard

from .conftest import READER


class CardConformance:
    def open(self) -> JPKICard:
        raise NotImplementedError

    def test_signature_certificate_whatever_its_policy(
        self, insert_card: Callable[[dict[str, Any]], VpcdCard], sign_ca: CertificateAuthority
    ) -> None:
        """J-LIS's test-environment policy (…1.0.20): still the certificate of the signature
        key, found by the key's ID / label, not by a policy guessed in the DER."""
        card = make_card(sign_ca, policy=POLICY_SIGNATURE_TEST)
        insert_card(card.to_image())
        with self.open() as jpki:
            jpki.verify_signature_pin("ABC123")
            der = jpki.read_signature_certificate()
            signature = jpki.sign_sha256(hashlib.sha256(b"x").digest())
        assert der == card.sign_certificate.public_bytes(Encoding.DER)
        assert parse_signature_certificate(der).policy_oids == (
            POLICY_SIGNATURE_TEST.dotted_string,
        )
        card.sign_certificate.public_key().verify(  # type: ignore[union-attr]
            signature, b"x", padding.PKCS1v15(), hashes.SHA256()
        )

    def test_ca_certificate(self, card: VpcdCard, card_template: VoterCard) -> None:
        expected = card_template.sign_ca.public_bytes(Encoding.DER)
        with self.open() as jpki:
            assert jpki.read_signature_ca_certificate() == expected  # free: no PIN needed
            jpki.verify_signature_pin("ABC123")
            assert jpki.read_signature_ca_certificate() == expected
        assert card.applet.pins[0x001B].tries_left == 5

    def test_a_card_without_the_jpki_application(
        self, pcscd: None, card_template: VoterCard
    ) -> None:
        """Another smart card (every application 'not found'): NotJPKICard, not "no card"."""

        class OtherCard(JPKIApplet):
            def process(self, command: bytes) -> bytes:
                return b"\x6a\x82"

        served = VpcdCard(OtherCard(card_template.to_image()))
        served.insert()
        try:
            wait_for_reader_state(READER, True)
            with pytest.raises(NotJPKICard):
                self.open()
        finally:
            served.remove()
            wait_for_reader_state(READER, False)
            time.sleep(1.0)

    @pytest.mark.parametrize("locked_status", ["6983", "63C0"])
    def test_locked_pin_is_reported_as_locked(
        self,
        insert_card: Callable[[dict[str, Any]], VpcdCard],
        card_template: VoterCard,
        locked_status: str,
    ) -> None:
        image = {**card_template.to_image(), "locked_status": locked_status}
        image["signature"] = {**image["signature"], "tries_left": 0}
        card = insert_card(image)
        with pytest.raises(PinLocked), self.open() as jpki:
            jpki.verify_signature_pin("ABC123")
        with pytest.raises(PinLocked), self.open() as jpki:
            jpki.signature_pin_tries_left()
        assert card.applet.pins[0x001B].tries_left == 0

    def test_certificate_and_signature(self, card: VpcdCard, card_template: VoterCard) -> None:
        assert (
            card_template.sign_certificate.extensions.get_extension_for_class(
                x509.CertificatePolicies
            )
            .value[0]
            .policy_identifier
            == POLICY_SIGNATURE
        )  # J-LIS's real class-20 policy
        with self.open() as jpki:
            with pytest.raises(SecurityStatusNotSatisfied):
                jpki.read_signature_certificate()
            jpki.verify_signature_pin("abc123")  # lower case is accepted as upper case
            der = jpki.read_signature_certificate()
            digest = hashlib.sha256(b"ippyo").digest()
            signature = jpki.sign_sha256(digest)
        assert parse_signature_certificate(der).name == card_template.resident.name
        card_template.sign_certificate.public_key().verify(
            signature, b"ippyo", padding.PKCS1v15(), hashes.SHA256()
        )

    def test_pin_format_is_checked_before_the_card(self, card: VpcdCard) -> None:
        with self.open() as jpki:
            for bad in ("12345", "ABC-123", "A" * 17, ""):
                with pytest.raises(InvalidPinFormat):
                    jpki.verify_signature_pin(bad)
        assert card.applet.pins[0x001B].tries_left == 5

    def test_card_pulled_mid_operation(self, card: VpcdCard) -> None:
        with self.open() as jpki:
            jpki.verify_signature_pin("ABC123")
            card.remove()
            with pytest.raises(CardRemoved):
                jpki.sign_sha256(hashlib.sha256(b"x").digest())


class TestPcsc(CardConformance):
    def open(self) -> JPKICard:
        return PcscCard.connect(READER)

    def test_wrong_pin_counts_down_then_locks_without_sending(self, card: VpcdCard) -> None:
        with self.open() as jpki:
            assert jpki.signature_pin_tries_left() == 5
            for expected in (4, 3, 2, 1, 0):
                with pytest.raises(WrongPin) as info:
                    jpki.verify_signature_pin("WRONG0")
                assert info.value.tries_left == expected
            sent_before = card.applet.pins[0x001B].tries_left
            commands = card.applet.commands
            with pytest.raises(PinLocked):
                jpki.verify_signature_pin("ABC123")  # the right PIN, but the card is locked
            assert sent_before == 0
            # Only SELECT EF and the status query went to the card; no PIN was sent.
            assert card.applet.commands - commands == 2
            with pytest.raises(PinLocked):
                jpki.signature_pin_tries_left()

    def test_correct_pin_resets_the_count(self, card: VpcdCard) -> None:
        with self.open() as jpki:
            with pytest.raises(WrongPin):
                jpki.verify_signature_pin("WRONG0")
            jpki.verify_signature_pin("ABC123")
            assert jpki.signature_pin_tries_left() == 5

    def test_extended_length_apdus_through_pcscd(
        self, card: VpcdCard, card_template: VoterCard
    ) -> None:
        """What a reader sends a real card: an extended-Le READ BINARY for a whole certificate
        and an extended-length signature command, through pcscd and vpcd."""
        from card_reader import apdu as A

        der = card_template.sign_ca.public_bytes(Encoding.DER)
        digest = hashlib.sha256(b"extended").digest()
        with PcscCard.connect(READER) as jpki:
            jpki._select_ef(A.EF_SIGN_CA_CERT)
            data, sw = jpki._status(A.read_binary_extended(0, len(der)))
            assert (data, sw) == (der, A.SW_OK) and len(der) > 256
            jpki.verify_signature_pin("ABC123")
            jpki._select_ef(A.EF_SIGN_KEY)
            signature, sw = jpki._status(
                A.compute_signature_extended(A.SHA256_DIGEST_INFO + digest)
            )
            assert sw == A.SW_OK
            _, sw = jpki._status(A.compute_signature_extended(b""))
            assert sw == A.SW_WRONG_LENGTH
        card_template.sign_certificate.public_key().verify(  # type: ignore[union-attr]
            signature, b"extended", padding.PKCS1v15(), hashes.SHA256()
        )

    def test_token_info(self, card: VpcdCard) -> None:
        with PcscCard.connect(READER) as jpki:
            assert jpki.token_info().startswith(b"JPKIAPICCTOKEN2")


class TestPkcs11(CardConformance):
    def open(self) -> JPKICard:
        return Pkcs11Card.open(READER)

    def test_wrong_pin_is_reported(self, card: VpcdCard) -> None:
        with self.open() as jpki, pytest.raises(WrongPin):
            jpki.verify_signature_pin("WRONG0")
        assert card.applet.pins[0x001B].tries_left == 4


def test_both_backends_read_the_same_certificate(card: VpcdCard) -> None:
    with PcscCard.connect(READER) as a:
        a.verify_signature_pin("ABC123")
        via_pcsc = a.read_signature_certificate()
    with Pkcs11Card.open(READER) as b:
        b.verify_signature_pin("ABC123")
        via_pkcs11 = b.read_signature_certificate()
    assert via_pcsc == via_pkcs11


def test_card_watcher_reports_insert_and_remove(pcscd: None, card_template: VoterCard) -> None:
    """The kiosk's card monitoring: events for the card coming and going."""
    import threading
    import time

    from card_reader.pcsc import CardWatcher, wait_for_reader_state
    from card_reader.virtual_card import JPKIApplet

    events: list[tuple[str, str]] = []
    seen = threading.Event()

    def on_event(kind: str, reader: str) -> None:
        events.append((kind, reader))
        seen.set()

    watcher = CardWatcher(on_event)
    try:
        served = VpcdCard(JPKIApplet(card_template.to_image()))
        served.insert()
        wait_for_reader_state(READER, True)
        deadline = time.monotonic() + 5
        while ("inserted", READER) not in events and time.monotonic() < deadline:
            time.sleep(0.05)
        served.remove()
        wait_for_reader_state(READER, False)
        while ("removed", READER) not in events and time.monotonic() < deadline + 5:
            time.sleep(0.05)
    finally:
        watcher.stop()
    time.sleep(1.0)
    assert ("inserted", READER) in events and ("removed", READER) in events
    assert events.index(("inserted", READER)) < events.index(("removed", READER))


def test_backend_is_chosen_by_configuration(
    card: VpcdCard, monkeypatch: pytest.MonkeyPatch
) -> None:
    from card_reader.abc import open_card

    monkeypatch.setenv("IPPYO_CARD_BACKEND", "pkcs11")
    with open_card() as jpki:
        assert jpki.backend == "pkcs11"
    monkeypatch.setenv("IPPYO_CARD_BACKEND", "pcsc")
    with open_card() as jpki:
        assert jpki.backend == "pcsc"
    with pytest.raises(ValueError, match="unknown card backend"):
        open_card("nfc")
