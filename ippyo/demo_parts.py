"""The demo's real parts: a test PKI, the registrar service over HTTP on 127.0.0.1, test cards
(key material from TEST card images), and the virtual card through the real PC/SC stack.

Everything here is the code the kiosk and the registrar use; only the cards are test cards.
Tokens are obtained by the kiosk's own flow, :func:`kiosk.core.tokenflow.obtain_token`.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from werkzeug.serving import make_server

from card_reader.abc import JPKICard
from card_reader.testpki import CertificateAuthority, Resident, VoterCard, make_card
from election.primitives.blind_rsa import RSAPublicKey
from registrar.app import create_app, hash_secret
from registrar.client import RegistrarClient
from registrar.signer import KeyFileSigner

KIOSK_ID = "tsukuba-cityhall-01"


@dataclass
class DemoRegistrar:
    client: RegistrarClient
    ca: CertificateAuthority
    public_key: RSAPublicKey

    def card(self, resident: Resident) -> VoterCard:
        return make_card(self.ca, resident)


@contextmanager
def registrar_service(
    directory: Path, election_id: bytes, election_day: dt.date
) -> Iterator[DemoRegistrar]:
    """A test CA with its CRL, the registrar's key file, and the service on a loopback port."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.create()
    ca.save(directory / "pki")
    crl = directory / "pki" / "crl.der"
    crl.write_bytes(ca.crl([]).public_bytes(Encoding.DER))
    key = directory / "registrar-key.pem"
    key.unlink(missing_ok=True)
    KeyFileSigner.generate(key)
    db = directory / "registrar.db"
    for stale in (db, db.with_suffix(".db-wal"), db.with_suffix(".db-shm")):
        stale.unlink(missing_ok=True)
    secret = secrets.token_urlsafe(16)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "ELECTION_ID": election_id.hex(),
            "ELECTION_DAY": election_day.isoformat(),
            "MUNICIPALITY": "茨城県つくば市",
            "CA_CERTS": [str(directory / "pki" / "ca.pem")],
            "CRLS": [str(crl)],
            "KIOSKS": {KIOSK_ID: hash_secret(secret)},
            "SIGNER": {"type": "keyfile", "path": str(key)},
        }
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines in the demo
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = RegistrarClient(f"http://127.0.0.1:{server.server_port}", KIOSK_ID, secret)
        _, public_key = client.info()
        yield DemoRegistrar(client, ca, public_key)
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def virtual_card(image: VoterCard) -> Iterator[JPKICard]:
    """The TEST card in the virtual reader, opened through pcscd like a real card."""
    from card_reader.pcsc import PcscCard, wait_for_reader_state
    from card_reader.stack import VIRTUAL_READER, ensure_pcscd, stop_pcscd
    from card_reader.virtual_card import JPKIApplet, VpcdCard

    started = ensure_pcscd()
    served = VpcdCard(JPKIApplet(image.to_image()))
    served.insert()
    try:
        wait_for_reader_state(VIRTUAL_READER, True)
        with PcscCard.connect(VIRTUAL_READER) as card:
            yield card
    finally:
        served.remove()
        stop_pcscd(started)
