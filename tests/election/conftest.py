"""Shared fixtures for the core's tests: a small election with a ceremony already run."""

from __future__ import annotations

import pytest

from election.context import ElectionContext
from election.keyceremony import Trustee, run_ceremony
from election.manifest import Manifest, manifest_from_dict
from election.primitives import blind_rsa


def small_manifest(max_council: int = 2) -> Manifest:
    return manifest_from_dict(
        {
            "id": "test-election",
            "name": {"ja": "テスト選挙", "en": "Test election"},
            "date": "2026-12-06",
            "municipality": {"ja": "つくば市", "en": "Tsukuba"},
            "contests": [
                {
                    "id": "mayor",
                    "title": {"ja": "市長", "en": "Mayor"},
                    "min": 1,
                    "max": 1,
                    "options": [
                        {"id": f"m{i}", "name": {"ja": f"候補{i}", "en": f"M{i}"}} for i in range(3)
                    ],
                },
                {
                    "id": "council",
                    "title": {"ja": "議会", "en": "Council"},
                    "min": 0,
                    "max": max_council,
                    "options": [
                        {"id": f"c{i}", "name": {"ja": f"議員{i}", "en": f"C{i}"}} for i in range(4)
                    ],
                },
            ],
        }
    )


@pytest.fixture(scope="session")
def manifest() -> Manifest:
    return small_manifest()


@pytest.fixture(scope="session")
def election(
    manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey
) -> tuple[list[Trustee], ElectionContext]:
    trustees, _, _, _, result = run_ceremony(manifest.election_id, 5, 3)
    ctx = ElectionContext(
        manifest, 5, 3, result.joint_public_key, registrar_key.public_key, 1337, b"\x42" * 20
    )
    return trustees, ctx
