"""The election record: one JSON document from which anyone can re-verify the election.

Format ``ippyo/election-record`` version 2, documented field by field (with the exact byte
encoding of every hash input) in ``docs/election-record.md``:

* :mod:`election.record.model` — the data model (:class:`ElectionRecord`, ...);
* :mod:`election.record.codec` — canonical export and *strict*, total parsing: any input gives
  a record or an :class:`~election.errors.EncodingError` naming the JSON path at fault;
* :mod:`election.record.verify` — :func:`verify_record`, one named check per line of the doc.
"""

from election.record.codec import record_from_dict, record_from_json, record_to_dict
from election.record.model import (
    FORMAT,
    RECORD_VERSION,
    ChainAnchor,
    ChallengedBallot,
    ElectionRecord,
)
from election.record.publication import (
    PUBLICATION_FORMAT,
    PUBLICATION_VERSION,
    publication_bytes,
    publication_from_bytes,
    record_from_chain,
)
from election.record.verify import (
    CHECKS,
    Check,
    VerificationReport,
    verify_against_chain,
    verify_record,
    verify_record_ballots,
    verify_record_sections,
)

__all__ = [
    "CHECKS",
    "FORMAT",
    "PUBLICATION_FORMAT",
    "PUBLICATION_VERSION",
    "RECORD_VERSION",
    "ChainAnchor",
    "ChallengedBallot",
    "Check",
    "ElectionRecord",
    "VerificationReport",
    "publication_bytes",
    "publication_from_bytes",
    "record_from_chain",
    "record_from_dict",
    "record_from_json",
    "record_to_dict",
    "verify_against_chain",
    "verify_record",
    "verify_record_ballots",
    "verify_record_sections",
]
