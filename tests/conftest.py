"""Fixtures shared by every component's tests."""

from __future__ import annotations

import pytest

from election.primitives import blind_rsa


@pytest.fixture(scope="session")
def registrar_key() -> blind_rsa.RSAPrivateKey:
    """One registrar RSA-2048 key for the whole run (generating one takes ~0.1–1 s)."""
    return blind_rsa.generate_key(2048)
