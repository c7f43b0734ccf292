"""``ippyo verify --rpc``: the record rebuilt from real geth nodes and verified.

An honest election on the three-node Clique devnet passes with every node queried; on
``geth --dev`` nodes, elections whose admin publishes a wrong result, a wrong decryption share,
a wrong anchor or keeps a ballot with a broken proof fail naming the check, as do published
record files with a ballot left out, added or altered, and two nodes that disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.chain import Chain
from devnet.network import Devnet, geth_path
from devnet.testing import running_devnet
from election.manifest import Manifest
from election.primitives import blind_rsa
from election.primitives.group import G
from election.record import ElectionRecord, publication_bytes
from election.validity import CastBallot
from ippyo.scenario import load_demo_manifest

from .kit import Election, dev_geth, failed_checks, run_election, run_verify


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_demo_manifest()


@pytest.fixture(scope="module")
def dev_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert geth_path().exists(), "geth is not built: scripts/setup.sh builds it"
    with dev_geth(tmp_path_factory.mktemp("geth-dev")) as url:
        yield url


@pytest.fixture(scope="module")
def dev_chain(dev_url: str) -> Chain:
    return Chain.connect([dev_url], timeout=10.0)


@pytest.fixture(scope="module")
def honest(
    dev_chain: Chain, manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey
) -> Election:
    return run_election([dev_chain], manifest, registrar_key)


def _verify(url: str | list[str], election: Election, *extra: str) -> tuple[int, str, list[str]]:
    urls = [url] if isinstance(url, str) else url
    args = [a for u in urls for a in ("--rpc", u)]
    result = run_verify(*args, "--contract", election.address, "--workers", "2", *extra)
    return result.returncode, result.stdout + result.stderr, failed_checks(result.stdout)


def _write(tmp_path: Path, record: ElectionRecord) -> str:
    path = tmp_path / "record.json"
    path.write_bytes(record.to_json())
    return str(path)


# --- honest -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    with running_devnet(tmp_path_factory.mktemp("devnet"), 3) as net:
        yield net


def test_honest_election_on_three_nodes_verifies(
    devnet: Devnet, manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    chain = Chain.connect(devnet.state.urls, timeout=5.0)
    election = run_election([chain], manifest, registrar_key, funded_keys=devnet.state.funded_keys)
    path = _write(tmp_path, election.record)
    code, out, failed = _verify(devnet.state.urls, election, "--record", path)
    assert code == 0, out
    assert failed == []
    for name in (
        "nodes agree (3)",
        "publication",
        "contract (6)",
        "chain anchor (7)",
        "sequence numbers (7)",
        "ballots (6)",
        "checked ballots (1)",
        "counted ballots (5)",
        "decryption shares (2)",
        "result",
        "record hash",
        "record ballots (7)",
        "record sections",
    ):
        assert f"OK   {name}" in out, (name, out)
    assert "bad_proof" not in out  # exclusions are checked, not printed, when they are right


def test_honest_election_on_dev_node_verifies(
    dev_url: str, honest: Election, tmp_path: Path
) -> None:
    code, out, failed = _verify(dev_url, honest, "--record", _write(tmp_path, honest.record))
    assert (code, failed) == (0, []), out


def test_progress_bar_on_request(dev_url: str, honest: Election) -> None:
    code, out, _ = _verify(dev_url, honest, "--progress")
    assert code == 0, out
    assert "ballots' signatures and proofs" in out
    assert "reading 1 node(s): ballots" in out


# --- a published record that differs from the chain --------------------------------------------
def test_record_with_a_ballot_left_out_fails(
    dev_url: str, honest: Election, tmp_path: Path
) -> None:
    record = honest.record
    dropped = dataclasses.replace(record, ballots=tuple(b for b in record.ballots if b.seq != 2))
    code, out, failed = _verify(dev_url, honest, "--record", _write(tmp_path, dropped))
    assert code == 1, out
    assert "record ballots" in failed
    assert "ballot #2 is on the chain but not in the record" in out
    # the chain's own record is still fine: only the file's checks fail
    assert set(failed) <= {"record ballots", "record hash"}


def test_record_with_a_ballot_added_fails(dev_url: str, honest: Election, tmp_path: Path) -> None:
    record = honest.record
    extra = dataclasses.replace(record.ballots[0], seq=len(record.ballots))
    added = dataclasses.replace(record, ballots=(*record.ballots, extra))
    code, out, failed = _verify(dev_url, honest, "--record", _write(tmp_path, added))
    assert code == 1, out
    assert "record ballots" in failed
    assert f"ballot #{len(record.ballots)} is in the record but not on the chain" in out


def test_record_with_a_renumbered_ballot_fails(
    dev_url: str, honest: Election, tmp_path: Path
) -> None:
    b = honest.record.ballots
    swapped = (
        dataclasses.replace(b[0], seq=1),
        dataclasses.replace(b[1], seq=0),
        *b[2:],
    )
    record = dataclasses.replace(honest.record, ballots=tuple(sorted(swapped, key=lambda c: c.seq)))
    code, out, failed = _verify(dev_url, honest, "--record", _write(tmp_path, record))
    assert code == 1 and "record ballots" in failed, out
    assert "ballot #0 has another hash on the chain" in out


def test_record_with_an_altered_proof_fails(dev_url: str, honest: Election, tmp_path: Path) -> None:
    record = honest.record
    raw = bytearray(record.ballots[1].ballot)
    raw[36 + 66 + 7] ^= 1
    altered: CastBallot = dataclasses.replace(record.ballots[1], ballot=bytes(raw))
    bad = dataclasses.replace(record, ballots=(record.ballots[0], altered, *record.ballots[2:]))
    code, out, failed = _verify(dev_url, honest, "--record", _write(tmp_path, bad))
    assert code == 1 and "record ballots" in failed, out
    assert "ballot #1 has another hash on the chain" in out


def test_record_with_an_altered_decryption_share_fails(
    dev_url: str, honest: Election, tmp_path: Path
) -> None:
    record = honest.record
    share = record.decryption_shares[0]
    rows = [list(r) for r in share.shares]
    rows[0][0] = rows[0][0] + G
    forged = dataclasses.replace(share, shares=tuple(tuple(r) for r in rows))
    bad = dataclasses.replace(record, decryption_shares=(forged, *record.decryption_shares[1:]))
    code, out, failed = _verify(dev_url, honest, "--record", _write(tmp_path, bad))
    assert code == 1, out
    assert set(failed) == {"record hash", "record sections"}, out
    assert "'tally' differs from the publication on chain" in out


def test_record_with_an_altered_result_fails(
    dev_url: str, honest: Election, tmp_path: Path
) -> None:
    record = honest.record
    assert record.result is not None
    result = ((record.result[0][0] + 1, *record.result[0][1:]), *record.result[1:])
    bad = dataclasses.replace(record, result=result)
    code, out, failed = _verify(dev_url, honest, "--record", _write(tmp_path, bad))
    assert code == 1 and "record sections" in failed, out


# --- a dishonest admin publishes on chain --------------------------------------------------------
def test_published_wrong_result_fails(
    dev_chain: Chain, dev_url: str, manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    def lie(record: ElectionRecord) -> ElectionRecord:
        assert record.result is not None
        first = record.result[0]
        return dataclasses.replace(
            record, result=((first[1], first[0], *first[2:]), *record.result[1:])
        )

    election = run_election([dev_chain], manifest, registrar_key, publish=lie)
    code, out, failed = _verify(dev_url, election)
    assert code == 1, out
    assert failed == ["result"], out
    assert "published result" in out


def test_published_wrong_decryption_share_fails(
    dev_chain: Chain, dev_url: str, manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    def lie(record: ElectionRecord) -> ElectionRecord:
        share = record.decryption_shares[1]
        rows = [list(r) for r in share.shares]
        rows[1][2] = rows[1][2] + G
        forged = dataclasses.replace(share, shares=tuple(tuple(r) for r in rows))
        return dataclasses.replace(record, decryption_shares=(record.decryption_shares[0], forged))

    election = run_election([dev_chain], manifest, registrar_key, publish=lie)
    code, out, failed = _verify(dev_url, election)
    assert code == 1, out
    assert "decryption shares" in failed, out
    # with one of the two shares refused, the quorum (2) is not met: no result either
    assert "result" in failed


def test_published_record_counting_a_ballot_with_a_broken_proof_fails(
    dev_chain: Chain, dev_url: str, manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    def keep_all(record: ElectionRecord) -> ElectionRecord:
        kept = tuple(e for e in record.excluded if e.code != "bad_proof")
        assert len(kept) == len(record.excluded) - 1
        return dataclasses.replace(record, excluded=kept)

    election = run_election([dev_chain], manifest, registrar_key, publish=keep_all)
    code, out, failed = _verify(dev_url, election)
    assert code == 1, out
    assert failed == ["ballots"], out
    assert "bad_proof" in out


def test_published_anchor_hiding_a_ballot_fails(
    dev_chain: Chain, dev_url: str, manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    def hide(record: ElectionRecord) -> ElectionRecord:
        anchor = dataclasses.replace(record.anchor, ballot_count=record.anchor.ballot_count - 1)
        return dataclasses.replace(record, anchor=anchor)

    election = run_election([dev_chain], manifest, registrar_key, publish=hide)
    code, out, failed = _verify(dev_url, election)
    assert code == 1, out
    assert "chain anchor" in failed and "sequence numbers" in failed, out


def test_no_result_published_yet_fails(
    dev_chain: Chain, dev_url: str, manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    election = run_election([dev_chain], manifest, registrar_key, publish_nothing=True)
    code, out, failed = _verify(dev_url, election)
    assert (code, failed) == (1, ["publication"]), out
    assert "phase 'closed': no result yet" in out
    assert "0 ResultPublished events; exactly one is due" in out


def test_unreadable_publication_fails_naming_the_path(
    dev_chain: Chain, dev_url: str, manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    election = run_election(
        [dev_chain], manifest, registrar_key, raw_publication=b'{"format":"ippyo/election-record"}'
    )
    code, out, failed = _verify(dev_url, election)
    assert (code, failed) == (1, ["publication"]), out
    assert "publication.format: must be 'ippyo/election-publication'" in out


def test_publication_for_another_contract_fails(
    dev_chain: Chain, dev_url: str, manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey
) -> None:
    """A publication copied from another election (same manifest, other contract and keys)."""
    first = run_election([dev_chain], manifest, registrar_key)
    election = run_election(
        [dev_chain], manifest, registrar_key, raw_publication=publication_bytes(first.published)
    )
    code, out, failed = _verify(dev_url, election)
    assert code == 1, out
    assert "contract" in failed, out
    assert "the publication's contract address" in out


# --- nodes that disagree, nodes that do not answer -----------------------------------------------
def test_nodes_that_disagree_fail(
    manifest: Manifest, registrar_key: blind_rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    with dev_geth(tmp_path / "a") as url_a, dev_geth(tmp_path / "b") as url_b:
        chains = [Chain.connect([url_a]), Chain.connect([url_b])]
        election = run_election(chains, manifest, registrar_key, skip_on={1: 3})
        code, out, failed = _verify([url_a, url_b], election)
        assert code == 1, out
        assert "nodes agree" in failed, out
        assert f"{url_b} disagrees with {url_a} on the ballot count: 5 vs 6" in out
        code, out, failed = _verify([url_a], election)
        assert (code, failed) == (0, []), out  # each node alone is self-consistent


def test_unreachable_node_exits_2(honest: Election, dev_url: str) -> None:
    code, out, _ = _verify([dev_url, "http://127.0.0.1:9"], honest)
    assert code == 2, out
    assert "http://127.0.0.1:9 does not answer" in out


def test_no_contract_at_address_exits_2(honest: Election, dev_url: str) -> None:
    result = run_verify("--rpc", dev_url, "--contract", "0x" + "11" * 20)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no readable BallotBox" in result.stderr


def test_bad_arguments_exit_2(dev_url: str) -> None:
    result = run_verify("--rpc", dev_url, "--contract", "0x1234")
    assert result.returncode == 2
    assert "--contract" in result.stderr
