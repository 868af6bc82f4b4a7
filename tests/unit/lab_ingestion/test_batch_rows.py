"""The key claims of a batch's write (migration 0022): which keys, in which order."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from services.lab_ingestion.adapters.batch_rows import key_claims, message_row, result_row
from services.lab_ingestion.adapters.batch_statements import LOOKUP, WRITE
from services.lab_ingestion.domain.model import NormalisedResult
from services.lab_ingestion.domain.records import MessageRecord, ResultRecord
from services.lab_ingestion.domain.report_fields import ReportField
from shared.contracts.events.lab import Analyte, Comparator

AT = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
CRP = NormalisedResult(Analyte.CRP, "1988-5", 12.0, "mg/L", "12", "mg/L", None, None, None)


def written(source: str, key: str) -> ResultRecord:
    return ResultRecord(uuid.uuid4(), uuid.uuid4(), "S-1", source, key, "F", CRP, AT, None, None)


def stored(key: tuple[str, str]) -> tuple[str, str]:
    return key[0], f"h({key[1]})"


def test_a_key_is_claimed_once_as_stored_and_in_one_order_whatever_the_batchs() -> None:
    new = [("LIS", "K9"), ("LAB", "K5"), ("LIS", "K1")]
    results = [written("LIS", "K9"), written("LIS", "K9"), written("LAB", "K5"),
               written("LIS", "K1")]  # fmt: skip
    claims = key_claims(results, new, [stored(k) for k in new])
    assert claims == [("LAB", "h(K5)"), ("LIS", "h(K1)"), ("LIS", "h(K9)")]
    reversed_order = key_claims(results[::-1], new[::-1], [stored(k) for k in new[::-1]])
    assert reversed_order == claims  # two batches claiming alike never wait for each other


def test_only_keys_the_batch_writes_as_new_are_claimed() -> None:
    """A key taken as unused with nothing written (an X of nothing) stays unclaimed: a claim
    without rows would be read as held for ever. A key written but not as new (a correction
    of a stored result) was claimed by its first write."""
    new = [("LIS", "K1"), ("LIS", "unused")]
    results = [written("LIS", "K1"), written("LIS", "corrected")]
    assert key_claims(results, new, [stored(k) for k in new]) == [("LIS", "h(K1)")]


def test_a_results_row_ends_with_whether_the_laboratory_commented() -> None:
    """Migration 0023 added the attribute last to the row type: the write's column list
    names it last too (a comment's text is never in the row, only that there is one)."""
    commented = ResultRecord(
        uuid.uuid4(), uuid.uuid4(), "S-1", "LIS", "K", "F",
        replace(CRP, laboratory_comment=True), AT, None, None,
    )  # fmt: skip
    assert result_row(commented, str)[-5] is True
    assert result_row(written("LIS", "K"), str)[-5] is False
    assert "supersedes_result_id, cancelled_at, laboratory_comment, comparator," in " ".join(
        WRITE.split()
    )


def test_a_results_row_ends_with_the_comparator_of_a_limit() -> None:
    """Migration 0024 added the attribute last: a limit's comparator as its text, a
    measured value's NULL."""
    limit = ResultRecord(
        uuid.uuid4(), uuid.uuid4(), "S-1", "LIS", "K", "F",
        replace(CRP, value=5.0, comparator=Comparator.BELOW), AT, None, None,
    )  # fmt: skip
    assert result_row(limit, str)[-4] == "<"
    assert result_row(written("LIS", "K"), str)[-4] is None


def test_a_results_row_ends_with_the_message_that_withdrew_it() -> None:
    """Migration 0030 added the attribute last: a result the batch stores and withdraws
    names the message whose cancellation withdrew it; a standing one none. A message's row
    ends with how many of its results asked to withdraw one."""
    by = uuid.uuid4()
    gone = replace(written("LIS", "K"), cancelled_at=AT, cancelled_by=by)
    assert result_row(gone, str)[-3] == by
    assert result_row(written("LIS", "K"), str)[-3] is None
    assert "comparator, cancelled_by_message," in " ".join(WRITE.split())
    cancelling = MessageRecord(by, "LIS", "M-1", "mllp", "accepted", "S-1", 0, AT, "d", 2)
    assert message_row(cancelling, str)[-1] == 2
    # the row type ends there (instances not yet upgraded write it so); migration 0039's
    # feed_of is written beside it, from its own array
    assert "content_digest, cancellations, feed_of)" in " ".join(WRITE.split())
    assert "unnest($6::message_row[], $30::text[])" in WRITE


def test_a_results_row_ends_with_its_keys_parts_as_stored() -> None:
    """Migration 0031 added the attribute after these (0032 moved them one back):
    the identifiers its keys are made of, each as stored (here: written), sorted."""
    parted = replace(written("LIS", "K"), identifier_parts=frozenset({"ORD7", "A1"}))
    assert result_row(parted, str)[-2] == ["A1", "ORD7"]
    assert result_row(written("LIS", "K"), str)[-2] == []
    assert "cancelled_by_message, identifier_parts, report_field)" in " ".join(WRITE.split())


def test_a_results_row_ends_with_the_field_its_report_time_was_read_from() -> None:
    """Migration 0032 added the attribute last: the field as its stored text (None without
    a report time), which the batch read reads back with the chain's head and versions."""
    analysed = replace(written("LIS", "K"), reported_at=AT, report_field=ReportField.OBX_19)
    assert result_row(analysed, str)[-1] == "OBX-19"
    assert type(result_row(analysed, str)[-1]) is str
    assert result_row(written("LIS", "K"), str)[-1] is None
    assert "identifier_parts, report_field)" in " ".join(WRITE.split())
    assert "head.reported_at, head.report_field" in " ".join(LOOKUP.split())
