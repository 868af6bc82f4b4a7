"""Review 241 D1: a FHIR ``cancelled`` without a value (review 165: refused while a result it
may be meant for stands, whatever its time) is answered in one commit batch as one at a time.
After HL7's F (or P) 12 of ORD7 collected two hours earlier, or another token's FHIR F 12 of
ORD7, in the same batch, it was left out (nothing stored, the 12 standing); one at a time it
is refused naming the holder. ``planned_sharing`` tells the batch's results as
``sharing_senders`` tells stored ones."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.copies_elsewhere import holding_senders
from services.lab_ingestion.domain.fhir_cancellations import (
    StandingResult,
    cancelled_before_resulting,
)
from services.lab_ingestion.domain.model import LabMessage, NormalisedResult, RejectionCode
from services.lab_ingestion.domain.planned_copies import planned_sharing
from services.lab_ingestion.domain.records import ResultRecord
from shared.contracts.events.lab import Analyte, Channel
from tests.unit.lab_ingestion.test_batch_ingestor import ingestor, stored_state
from tests.unit.lab_ingestion.test_copies_bound_feeds import _crp
from tests.unit.lab_ingestion.test_fhir_identifiers_in_one_batch import answered, command, database
from tests.unit.lab_ingestion.test_two_feeds_in_one_batch import hl7, observation

REFUSED = RejectionCode.UNKNOWN_CORRECTED_RESULT


def _cancelled(later: timedelta, application: str = "lab") -> LabMessage:
    """A FHIR ``cancelled`` without a value under ORD7, collected ``later`` than step 0."""
    cancelled = observation("ORD7", "X", "", 5)
    assert cancelled.collected_at is not None
    cancelled = replace(cancelled, collected_at=cancelled.collected_at + later)
    return LabMessage(Channel.FHIR, application, "FHIR", "f1", "MRN1", (cancelled,))


async def _answers(sent: list[LabMessage], *, batched: bool) -> Any:
    db = database()
    ingest = ingestor(db)
    if batched:
        outcomes = await ingest([command(m) for m in sent])
    else:
        outcomes = [o for m in sent for o in await ingest([command(m)])]
    return answered(outcomes), stored_state(db)


def _both(sent: list[LabMessage]) -> tuple[Any, Any]:
    return asyncio.run(_answers(sent, batched=True)), asyncio.run(_answers(sent, batched=False))


@pytest.mark.parametrize("status", ["F", "P"])
@pytest.mark.parametrize("minutes", [0, 120])
def test_a_cancellation_after_hl7s_result_of_the_batch_is_refused_as_alone(
    status: str, minutes: int
) -> None:
    batched, single = _both(
        [hl7("h1", "MRN1", [(status, "12")], 0), _cancelled(timedelta(minutes=minutes))]
    )
    assert single[0][1][2] is REFUSED, single[0]
    assert batched == single


def test_a_cancellation_under_another_token_after_its_result_of_the_batch_is_refused() -> None:
    first = LabMessage(
        Channel.FHIR, "lab", "FHIR", "f0", "MRN1", (observation("ORD7", "F", "12", 0),)
    )
    batched, single = _both([first, _cancelled(timedelta(0), application="lab2")])
    assert single[0][1][2] is REFUSED, single[0]
    assert batched == single


# --- the pure rule: planned_sharing mirrors sharing_senders --------------------------------

SAMPLE = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
SOURCES = st.sampled_from(["lab^FHIR", "lab2^FHIR", "LIS^HOSP", "LAB2^F2"])
KEYS = st.sampled_from(["ORD7|1988-5", "R-1|1988-5", "ORD7|1988-5|", "ORD8|1988-5"])
PLANNED = st.tuples(
    SOURCES, st.sampled_from(["S-1", "S-2"]), KEYS,
    st.sampled_from(["F", "C", "P"]), st.sampled_from([Analyte.CRP, Analyte.NEUTROPHILS]),
    st.sampled_from([0, 120]), st.sampled_from([None, "LIS^HOSP", "LAB2^F2"]),
)  # fmt: skip


def _channel(source: str) -> Channel:
    return Channel.FHIR if source.endswith("^FHIR") else Channel.MLLP


def _record(drawn: Any) -> tuple[ResultRecord, str, str | None]:
    source, subject, key, status, analyte, minutes, feed = drawn
    result = NormalisedResult(analyte, "1988-5", 12.0, "mg/L", "12", "mg/L", None, None, None)
    record = ResultRecord(
        uuid.uuid4(), uuid.uuid4(), subject, source, key, status, result,
        SAMPLE + timedelta(minutes=minutes), None, None,
        identifier_parts=frozenset({key.split("|")[0]}),
    )  # fmt: skip
    channel = _channel(source)
    return record, channel.value, feed if channel is Channel.FHIR else None


def _as_stored(record: ResultRecord, channel: str) -> StandingResult:
    return StandingResult(
        record.source, record.result_key, record.result.analyte.value, record.identifier_parts,
        record.status, record.collected_at, channel,
    )  # fmt: skip


@given(
    st.lists(PLANNED, max_size=6), st.sampled_from(["ORD7", "R-1"]),
    st.sampled_from(["lab^FHIR", "lab2^FHIR"]), st.sampled_from([None, "LIS^HOSP"]),
)  # fmt: skip
def test_the_batchs_results_count_for_a_cancellation_as_stored_ones(
    drawn: list[Any], identifier: str, source: str, feed: str | None
) -> None:
    """The senders ``planned_sharing`` finds among the batch's results for a FHIR
    cancellation of the patient's (S-1) CRP under ``identifier`` from ``source`` (its token
    bound to ``feed``) are those ``holding_senders`` finds among the same results stored:
    whatever their time or status, never another laboratory's HL7 result."""
    planned = [_record(d) for d in drawn]
    cancellation = replace(_crp(key=f"{identifier}|1988-5"), status="X", value="")
    assert cancelled_before_resulting(cancellation, Channel.FHIR)
    parts = frozenset({identifier})
    found = planned_sharing(source, "S-1", cancellation, parts, planned, feed=feed)
    stored = [_as_stored(r, by) for r, by, _ in planned if r.subject_id == "S-1"]
    keys = (frozenset({cancellation.result_key}), parts)
    expected = holding_senders(source, Channel.FHIR, cancellation, stored, keys, feed=feed)
    assert {r.source for r in found} == expected
