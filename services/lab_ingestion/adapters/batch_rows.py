"""The rows of a batch's write, as tuples in the field order of the row types (migrations
0003, 0008, 0023, 0024, 0030, 0031, 0032) and of the key claims (0022); ids as stored: their keyed
hashes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.lab_ingestion.adapters.stored_ids import StoredId
from services.lab_ingestion.domain.records import (
    MessageRecord,
    RejectionRecord,
    ResultRecord,
    UnheldSample,
)

SourceKey = tuple[str, str]


def key_claims(
    results: Sequence[ResultRecord],
    new_keys: Sequence[SourceKey],
    stored_new_keys: Sequence[SourceKey],
) -> list[SourceKey]:
    """The keys, as stored, that the batch writes results under as new (taken for holding no
    row): each claims its first write (migration 0022). Each once, sorted, so that two
    batches claiming some alike claim them in one order and never wait for each other."""
    written = {(r.source, r.result_key) for r in results}
    return sorted(
        {stored for key, stored in zip(new_keys, stored_new_keys, strict=True) if key in written}
    )


def identifier_rows(
    results: Sequence[ResultRecord], stored_id: StoredId, claimed: set[SourceKey]
) -> list[tuple[str, str, str]]:
    """Each written result's other identifiers, as stored (migration 0028): the source, the
    identifier's key and the key the result is stored under; each once, sorted. Each also
    claims its key (0022) unless the batch claims it as a result's own: a batch taking it
    for holding no row is then refused and reads it (``result_identifiers``)."""
    rows = {
        (r.source, stored_id(k), stored_id(r.result_key)) for r in results for k in r.other_keys
    }
    return sorted(row for row in rows if row[1] != row[2] and (row[0], row[1]) not in claimed)


def unheld_rows(samples: Sequence[UnheldSample], stored_id: StoredId) -> tuple[list[Any], ...]:
    """The columns of the samples a fast-path batch took for held by no other sender
    (migration 0039's ``assert_samples_never_held_across_bound_feeds``; their channels and
    laboratories beside):
    sources, subjects, analytes, collection times and identifier parts, these as stored
    (keyed hashes, as ``results.identifier_parts``)."""
    return (
        [s.source for s in samples],
        [s.subject_id for s in samples],
        [s.analyte for s in samples],
        [s.collected_at for s in samples],
        [stored_id(s.part) for s in samples],
    )


def message_row(m: MessageRecord, stored_id: StoredId) -> tuple[Any, ...]:
    return (
        m.message_id, m.source, stored_id(m.control_id), m.channel, m.outcome, m.subject_id,
        m.result_count, m.received_at, m.content_digest, m.cancellations,
    )  # fmt: skip


def result_row(r: ResultRecord, stored_id: StoredId) -> tuple[Any, ...]:
    result = r.result
    return (
        r.result_id, r.message_id, r.subject_id, r.source, stored_id(r.result_key),
        result.analyte.value, result.loinc, result.value, result.unit, result.original_value,
        result.original_unit, result.reference_low, result.reference_high,
        result.abnormal_flag, r.status, r.collected_at, r.reported_at,
        r.supersedes_result_id, r.cancelled_at, result.laboratory_comment,
        result.comparator and result.comparator.value, r.cancelled_by,
        sorted(stored_id(part) for part in r.identifier_parts),
        r.report_field and r.report_field.value,
    )  # fmt: skip


def rejection_row(r: RejectionRecord) -> tuple[Any, ...]:
    """A rejection keeps whatever was sent, NUL bytes too, which PostgreSQL's text cannot
    hold: they are kept as the visible escape ``\\x00``."""
    return (
        r.rejection_id, r.channel, _storable(r.source), _storable(r.control_id), r.code.value,
        _storable(r.reason), _storable(r.payload), r.received_at, r.patient_hmac,
        r.content_digest,
    )  # fmt: skip


def _storable(text: str | None) -> str | None:
    return text.replace("\x00", "\\x00") if text and "\x00" in text else text
