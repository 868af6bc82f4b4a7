"""An HL7 time's UTC offset beyond +/-14:00, which no time zone has, is unusable as JSON's
and FHIR's are: ``+1459`` (a typo) was read, the sample placed 15 hours off; it is now
refused as any unusable collection time is (AE ``missing-collection-time``, kept)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_ts
from services.lab_ingestion.adapters.json_parser import JsonInputError, parse_lab_results
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from tests.unit.lab_ingestion.hl7_ingest import ingest_hl7
from tests.unit.lab_ingestion.hl7_samples import FAST
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase
from tests.unit.lab_ingestion.test_hl7_through_the_service_layer import answers
from tests.unit.lab_ingestion.test_json_parser import body


def _json_reads(sign: str, hours: int, minutes: int) -> bool:
    try:
        parse_lab_results(body(collected_at=f"2026-11-20T08:00:00{sign}{hours:02d}:{minutes:02d}"))
    except JsonInputError:
        return False
    return True


@FAST
@given(st.sampled_from("+-"), st.integers(0, 99), st.integers(0, 99))
@example("+", 14, 0)
@example("+", 14, 1)
@example("-", 14, 59)
@example("-", 13, 59)
@example("+", 0, 60)
@example("+", 0, 99)
def test_hl7_reads_an_offset_exactly_when_json_does(sign: str, hours: int, minutes: int) -> None:
    """Minutes beyond 59 too: both refuse ``+0060`` (Python's ISO reading alone carries
    them into the hour: ``+00:60`` is ``+01:00``)."""
    read = parse_ts(f"20261120080000{sign}{hours:02d}{minutes:02d}") is not None
    assert read == (minutes <= 59 and hours * 60 + minutes <= 14 * 60)
    assert read == _json_reads(sign, hours, minutes)


def _crp(control_id: str, offset: str) -> str:
    return "\r".join([
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{control_id}|P|2.5.1",
        "PID|1||MRN1^^^HOSP^MR",
        "OBR|1|PLC1|ORD1|LAB^Lab panel",
        f"OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||F|||20261120081500{offset}",
    ]) + "\r"  # fmt: skip


async def test_a_collection_time_beyond_14_hours_is_refused_as_an_unusable_one_is() -> None:
    """``+1459`` answered as ``+2400`` always was: AE, the same reason."""
    found = await answers([_crp("OFF-1", "+1459"), _crp("OFF-2", "+2400")])
    (code, reason, transient, command), (*usual, _) = found
    assert (code, reason, transient) == tuple(usual)
    assert (code, reason) == ("AE", "crp result has no collection time")
    assert isinstance(command, IngestLabMessage)  # refused by the service, which keeps it


@pytest.mark.parametrize(("offset", "accepted"), [("+1400", True), ("+1459", False)])
async def test_the_refusal_is_kept_and_14_hours_is_read(offset: str, accepted: bool) -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    outcome = await ingest_hl7(db, _crp("OFF-3", offset))
    assert outcome.accepted is accepted, outcome.reason
    if not accepted:
        assert outcome.code is RejectionCode.MISSING_COLLECTION_TIME
        assert [topic for topic, _ in db.events] == ["lab.rejected.v1"]  # kept
