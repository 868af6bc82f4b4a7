"""Task 211's pure rules and fast path: a JSON result under a valid code of a test the trial
does not follow, whose ``result_id`` holds a trial result, is refused whatever its status
(``json_codes.misfiled_change``), never left out; a ``result_id`` holding nothing leaves it
out as another test's. The fast path reads no key: it takes such a ``result_id`` to hold
nothing (``ids_held_checked``), its write checks that, and a batch it refuses is read and
planned again, where the result is refused. Only JSON: HL7 and FHIR key by the test too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.json_parser import parse_lab_results
from services.lab_ingestion.domain.analyte_codes import LOINC_CODES, identify_analyte
from services.lab_ingestion.domain.json_codes import (
    held_checked,
    ids_held_checked,
    misfiled_change,
)
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.domain.reason_wording import for_json, speaks_hl7
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

AT = datetime(2026, 11, 20, 7, tzinfo=UTC)
RECEIVED = AT + timedelta(hours=3)
LOINC = "http://loinc.org"
APPLIED = ["F", "P", "C", "X", "D"]  # the JSON statuses, as read
OTHER_TESTS = ["2345-7", "26464-8", "2951-2", "6690-2"]  # glucose, leukocytes, sodium, WBC
HEAD = EarlierResult(uuid.uuid4(), "S-1", "crp", AT, ("1988-5", 12.0))


@given(
    st.sampled_from([*APPLIED, "I", "U"]),
    st.sampled_from([None, "S-1", "S-2"]),
    st.integers(min_value=0, max_value=50),
)
def test_a_result_id_holding_a_trial_result_refuses_any_applied_status(
    status: str, holder: str | None, at: int
) -> None:
    """Refused exactly when the result_id holds a trial result and the status is applied:
    the patient's ``result-of-another-analyte`` naming the code to send, another patient's
    ``result-of-another-patient`` naming nothing of theirs; never the code sent."""
    held = None if holder is None else HEAD._replace(subject_id=holder)
    refused = misfiled_change(status, held, "S-1", at)
    assert (refused is not None) is (held is not None and held_checked(status))
    assert held_checked(status) is (status in APPLIED)
    if refused is None:
        return
    assert not speaks_hl7(for_json(refused.reason))
    assert "2345" not in refused.reason
    if holder == "S-1":
        assert refused.code is RejectionCode.OTHER_ANALYTES_RESULT
        assert "loinc 1988-5" in refused.reason and f"results[{at}].loinc" in refused.reason
    else:
        assert refused.code is RejectionCode.OTHER_PATIENTS_RESULT
        assert "crp" not in refused.reason and "1988-5" not in refused.reason


def _json(*observations: ObservationInput, channel: Channel = Channel.JSON) -> LabMessage:
    return LabMessage(channel, "LIS", "HOSP", "M-1", "MRN1", observations)


def _item(key: str, code: str, status: str = "F", value: str = "5.4") -> ObservationInput:
    unit = ("mmol/L",) if value else ()
    return ObservationInput(key, (Coding(code, LOINC),), value, unit, status=status,
                            collected_at=AT)  # fmt: skip


PLATELETS = ObservationInput(
    "N1", (Coding("777-3", LOINC),), "150", ("10*9/L",), status="F", collected_at=AT
)


@given(st.sampled_from(OTHER_TESTS), st.sampled_from(["F", "P"]), st.booleans())
def test_planning_refuses_a_final_or_preliminary_under_a_trial_result_id(
    code: str, status: str, beside: bool
) -> None:
    """Beside a platelet count or alone: refused at the item where R1 holds the CRP; left
    out (or no trial result) where it holds nothing, or over HL7 (keyed by its test)."""
    other = _item("R1", code, status)
    observations = (PLATELETS, other) if beside else (other,)
    held = {"R1": HEAD}.get
    planned = plan_results(_json(*observations), UnitParameters(), RECEIVED, held,
                           subject_id="S-1")  # fmt: skip
    assert isinstance(planned, Rejected), planned
    assert planned.code is RejectionCode.OTHER_ANALYTES_RESULT
    assert planned.observation == len(observations) - 1
    cases: list[tuple[Channel, Any]] = [(Channel.JSON, lambda key: None), (Channel.MLLP, held)]
    for channel, holds in cases:
        planned = plan_results(_json(*observations, channel=channel), UnitParameters(),
                               RECEIVED, holds, subject_id="S-1")  # fmt: skip
        if beside:
            assert not isinstance(planned, Rejected) and len(planned) == 1, planned
        else:
            assert isinstance(planned, Rejected), planned
            assert planned.code is RejectionCode.UNKNOWN_ANALYTE


@given(
    st.lists(
        st.tuples(st.sampled_from([*OTHER_TESTS, *LOINC_CODES]), st.sampled_from([*APPLIED, "I"])),
        max_size=6,
    ),
    st.sampled_from(list(Channel)),
)
def test_the_fast_path_checks_the_ids_of_json_results_of_other_tests(
    items: list[tuple[str, str]], channel: Channel
) -> None:
    """Exactly the JSON results of no trial analyte with an applied status: their ids are
    taken to hold nothing (the write checks them); a trial result's key is checked as a new
    result's; HL7 and FHIR none (their keys name the test)."""
    observations = [_item(f"R{n}", code, status) for n, (code, status) in enumerate(items)]
    checked = ids_held_checked(_json(*observations, channel=channel))
    expected = [
        o.result_key
        for o in observations
        if identify_analyte(o.codes) is None and o.status in APPLIED
    ]
    assert checked == (expected if channel is Channel.JSON else [])


# --- through the ingestor, on the fast path (FakeDatabase: migration 0018's key check) ---


def _body(message_id: str, *items: tuple[str, str, str, str]) -> IngestLabMessage:
    results: list[dict[str, Any]] = [
        {"result_id": rid, "loinc": code, "status": status, "value": value,
         "unit": "mmol/L" if code == "2345-7" else "mg/L" if code == "1988-5" else "10*9/L",
         "collected_at": "2026-11-20T08:00:00+01:00"}
        for rid, code, status, value in items
    ]  # fmt: skip
    body = {"message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": "MRN1"}, "results": results}  # fmt: skip
    return IngestLabMessage(parse_lab_results(body), lambda: "", RECEIVED)


CRP = ("R1", "1988-5", "final", "12")
COUNT = ("N1", "777-3", "final", "150")


@pytest.mark.parametrize("status", ["final", "preliminary"])
async def test_the_fast_paths_write_sends_it_to_be_read_and_refused(status: str) -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    (stored,) = await ingest([_body("A-1", CRP)])
    assert stored.accepted
    refused_before, lookups = db.refused, db.lookups
    (outcome,) = await ingest([_body("A-2", COUNT, ("R1", "2345-7", status, "5.4"))])
    assert not outcome.accepted and outcome.code is RejectionCode.OTHER_ANALYTES_RESULT
    assert db.refused == refused_before + 1 and db.lookups == lookups + 1  # then read
    assert len(db.results) == 1


async def test_one_under_an_unused_result_id_stays_on_the_fast_path() -> None:
    """Batches of other tests' results under ids of their own: written on assumptions,
    never read (the SPEC's bar: no read per message on the fast path)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([_body("A-1", CRP)])
    lookups = db.lookups
    batch = [
        _body(f"B-{n}", (f"N{n}", "777-3", "final", "150"), (f"G{n}", "2345-7", "final", "5.4"))
        for n in range(20)
    ]
    outcomes = await ingest(batch)
    assert all(o.accepted for o in outcomes) and db.lookups == lookups
    assert len(db.results) == 21
