"""What one chain node says about one BallotBox: everything ``ippyo verify --rpc`` needs.

Read through :class:`contracts.client.BallotBox` only (so the contract can change underneath
it), one node at a time, so that nodes can be compared.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.chain import Chain
from contracts.client import BallotBox, Phase, PublishedResult
from election.errors import ElectionError
from election.record import ChallengedBallot, publication_from_bytes
from election.validity import CastBallot

BLOCK_WINDOW = 2000
"""Blocks read per request round while reading ballots (the progress bar moves per window)."""
RESULT_STEP = 50_000
"""Block range per log query when searching for ResultPublished."""


@dataclass
class NodeView:
    url: str
    chain_id: int
    head: int
    phase: Phase
    ballot_count: int
    checked_count: int
    election_id: bytes
    base_hash: bytes
    revote_allowed: bool
    registrar_modulus: bytes
    registrar_exponent: bytes
    result_hash: bytes | None
    transcript_hash: bytes | None
    published: list[PublishedResult]
    first_block: int
    ballots: list[CastBallot] = field(default_factory=list)
    challenged: list[ChallengedBallot] = field(default_factory=list)

    def comparable(self) -> dict[str, Any]:
        """Every fact the nodes must agree on (not the head: nodes may be a block apart)."""
        return {
            "chain id": self.chain_id,
            "phase": self.phase.name.lower(),
            "ballot count": self.ballot_count,
            "checked count": self.checked_count,
            "election id": self.election_id,
            "base hash": self.base_hash,
            "re-vote": self.revote_allowed,
            "registrar key": (self.registrar_modulus, self.registrar_exponent),
            "result hash": self.result_hash,
            "transcript hash": self.transcript_hash,
            "publication": [(p.result_hash, p.transcript_hash, p.result) for p in self.published],
            "ballots": self.ballots,
            "checked ballots": self.challenged,
        }


def read_node(
    url: str,
    address: str,
    *,
    from_block: int = 0,
    timeout: float = 10.0,
    progress: Callable[[int, int], None] | None = None,
) -> NodeView:
    """Read one node. Raises :class:`~contracts.chain.ChainError` (unreachable) or another
    exception when the address holds no BallotBox; the caller reports both as unreadable."""
    chain = Chain.connect([url], timeout=timeout)
    box = BallotBox(chain, address)
    head = chain.call(lambda w3: int(w3.eth.block_number))
    phase = box.phase()
    count, checked = box.ballot_count(), box.challenged_count()
    modulus, exponent = box.registrar_key()
    published = box.published_results(from_block, head, step=RESULT_STEP)
    first = from_block
    if len(published) == 1:
        # a bad publication is reported by the "publication" check; read from --from-block
        with contextlib.suppress(ElectionError):
            anchor = publication_from_bytes(published[0].result).anchor
            first = max(from_block, anchor.first_block)
    view = NodeView(
        url,
        chain.chain_id,
        head,
        phase,
        count,
        checked,
        box.election_id(),
        box.base_hash(),
        box.revote_allowed(),
        modulus,
        exponent,
        box.result_hash(),
        box.transcript_hash(),
        published,
        first,
    )
    for start in range(first, head + 1, BLOCK_WINDOW):
        end = min(start + BLOCK_WINDOW - 1, head)
        view.ballots += box.cast_ballots(start, end)
        view.challenged += [
            ChallengedBallot(c.seq, c.ballot, c.master_nonce)
            for c in box.challenged_ballots(start, end)
        ]
        if progress is not None:
            progress(len(view.ballots), count)
    view.ballots.sort(key=lambda b: b.seq)
    view.challenged.sort(key=lambda c: c.seq)
    return view
