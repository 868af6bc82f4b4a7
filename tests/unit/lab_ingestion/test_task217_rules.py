"""Task 217's pure rules and fast path: a FHIR Observation of another test keyed by its
first untyped identifier (as written, without the test) under the untyped identifier of a
stored trial result is refused, whatever its status (``other_test_keys``), never ignored;
an identifier holding nothing, a FILL or PLAC key (which holds the test) leave it ignored.
A Bundle's such Observation is a message read for its key only (``LabMessage.other_test``);
the fast path takes its key to hold nothing, its write checks that, and a batch it refuses
is read and planned again, where the Observation is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.domain.analyte_codes import LOINC_CODES, identify_analyte
from services.lab_ingestion.domain.json_codes import ids_held_checked
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.other_test_keys import (
    keys_held_checked,
    misfiled_under_identifier,
)
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.domain.reason_wording import for_fhir, speaks_hl7
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.domain.result_identifiers import (
    ORDER_NUMBER_TYPES,
    ResultIdentifier,
    identifier_keys,
)
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

AT = datetime(2026, 11, 20, 7, tzinfo=UTC)
RECEIVED = AT + timedelta(hours=3)
LOINC = "http://loinc.org"
APPLIED = ["F", "P", "C", "X", "D"]  # final, preliminary, corrected/amended, cancelled, e-i-e
FHIR_STATUSES = ["final", "preliminary", "corrected", "amended", "cancelled", "entered-in-error"]
OTHER_TESTS = ["2345-7", "26464-8", "2951-2", "6690-2"]  # glucose, leukocytes, sodium, WBC
HEAD = EarlierResult(uuid.uuid4(), "S-1", "crp", AT, ("1988-5", 12.0))


@given(st.sampled_from([*APPLIED, "I", "U"]), st.sampled_from([None, "S-1", "S-2"]))
def test_an_identifier_holding_a_trial_result_refuses_any_applied_status(
    status: str, holder: str | None
) -> None:
    """Refused exactly when the identifier holds a trial result and the status is applied:
    the patient's ``result-of-another-analyte`` naming the code to send in FHIR's words,
    another patient's ``result-of-another-patient`` naming nothing of theirs; never the code
    sent."""
    held = None if holder is None else HEAD._replace(subject_id=holder)
    refused = misfiled_under_identifier(status, held, "S-1")
    assert (refused is not None) is (held is not None and status in APPLIED)
    if refused is None:
        return
    reason = for_fhir(refused.reason)
    assert not speaks_hl7(reason) and "2345" not in reason and "loinc " not in reason
    if holder == "S-1":
        assert refused.code is RejectionCode.OTHER_ANALYTES_RESULT
        assert f"Observation.code 1988-5 ({LOINC})" in reason
    else:
        assert refused.code is RejectionCode.OTHER_PATIENTS_RESULT
        assert "crp" not in reason and "1988-5" not in reason
        assert "Observation.identifier" in reason


_IDENTIFIERS = st.lists(
    st.builds(
        ResultIdentifier,
        st.sampled_from(["", *ORDER_NUMBER_TYPES, "ACSN"]),
        st.sampled_from([None, "urn:lab"]),
        st.sampled_from(["", "OBS-1", "OBS-2", "V-9"]),
    ),
    max_size=5,
)


@given(_IDENTIFIERS, st.sampled_from(["1988-5", "2345-7"]))
def test_a_key_is_untyped_exactly_when_no_order_number_is_given(
    identifiers: list[ResultIdentifier], test: str
) -> None:
    """Untyped: no FILL or PLAC among the identifiers with a value, and the key is then the
    first one's as written, without the test; an order number's key holds the test."""
    keys = identifier_keys(identifiers, test)
    named = [i for i in identifiers if i.value]
    if keys is None:
        assert not named
        return
    ordered = any(i.type_code in ORDER_NUMBER_TYPES for i in named)
    assert keys.untyped is not ordered
    if keys.untyped:
        assert keys.key == named[0].written
    else:
        assert keys.key.endswith(f"|{test}")


def _observation(
    key: str, code: str, status: str = "F", *, untyped: bool = True
) -> ObservationInput:
    return ObservationInput(key, (Coding(code, LOINC),), "5.4", ("mmol/L",), status=status,
                            collected_at=AT, untyped_key=untyped)  # fmt: skip


def _message(*observations: ObservationInput, channel: Channel = Channel.FHIR) -> LabMessage:
    return LabMessage(channel, "LIS", "HOSP", "M-1", "MRN1", observations)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([*OTHER_TESTS, *LOINC_CODES]),
            st.sampled_from([*APPLIED, "I"]),
            st.booleans(),
        ),
        max_size=6,
    ),
    st.sampled_from(list(Channel)),
)
def test_the_keys_the_fast_path_checks(
    items: list[tuple[str, str, bool]], channel: Channel
) -> None:
    """FHIR: exactly the Observations of no trial analyte, of an applied status, under an
    untyped identifier; JSON: its result_ids as before (task 211); HL7: none."""
    observations = [
        _observation(f"K{n}", code, status, untyped=untyped)
        for n, (code, status, untyped) in enumerate(items)
    ]
    message = _message(*observations, channel=channel)
    checked = keys_held_checked(message)
    if channel is Channel.FHIR:
        assert checked == [
            o.result_key
            for o in observations
            if o.untyped_key and identify_analyte(o.codes) is None and o.status in APPLIED
        ]
    elif channel is Channel.JSON:
        assert checked == ids_held_checked(message)
    else:
        assert checked == []


@given(st.sampled_from(OTHER_TESTS), st.sampled_from(APPLIED))
def test_planning_refuses_a_lone_observation_under_a_trial_results_identifier(
    code: str, status: str
) -> None:
    """Refused for the CRP under OBS-1; under an identifier holding nothing, or keyed by an
    order number (with its test), it holds no trial result: unknown-analyte as before."""
    held = {"OBS-1": HEAD}.get
    planned = plan_results(_message(_observation("OBS-1", code, status)), UnitParameters(),
                           RECEIVED, held, subject_id="S-1")  # fmt: skip
    assert isinstance(planned, Rejected) and planned.observation == 0, planned
    assert planned.code is RejectionCode.OTHER_ANALYTES_RESULT
    for other, holds in ((_observation("OBS-1", code, status), lambda key: None),
                         (_observation("OBS-1", code, status, untyped=False), held)):  # fmt: skip
        planned = plan_results(_message(other), UnitParameters(), RECEIVED, holds,
                               subject_id="S-1")  # fmt: skip
        assert isinstance(planned, Rejected) and planned.code is RejectionCode.UNKNOWN_ANALYTE


# --- the Bundle's entries, and through the ingestor (FakeDatabase: 0018's key check) ---


def _resource(identifier: str, code: str = "1988-5", status: str = "final", **kw: Any) -> Any:
    ident: dict[str, Any] = {"system": "urn:lab", "value": identifier}
    if kw.get("typed"):
        ident["type"] = {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": kw["typed"]}
        ]}  # fmt: skip
    unit = "mg/L" if code == "1988-5" else "mmol/L"
    return {
        "resourceType": "Observation", "identifier": [ident], "status": status,
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN1"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 5.4, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
    }  # fmt: skip


def _batch(*resources: Any) -> Any:
    entries = [{"resource": r, "request": {"method": "POST", "url": "Observation"}}
               for r in resources]  # fmt: skip
    return parse_bundle({"resourceType": "Bundle", "type": "batch", "entry": entries},
                        "LIS", "HOSP", lambda number: f"h({number})")  # fmt: skip


@pytest.mark.parametrize("status", FHIR_STATUSES)
def test_a_bundles_other_test_is_a_message_read_for_its_key_only(status: str) -> None:
    """Glucose under an untyped identifier: ignored, and a message marked other_test;
    under a FILL number, or registered (no result), ignored with no message; the CRP a
    message of its own, never marked."""
    parsed = _batch(
        _resource("OBS-2"), _resource("OBS-1", "2345-7", status),
        _resource("OBS-1", "2345-7", status, typed="FILL"),
        _resource("OBS-1", "2345-7", "registered"),
    )  # fmt: skip
    crp, untyped, filled, registered = parsed.entries
    assert crp.message is not None and not crp.message.other_test and not crp.ignored
    assert untyped.ignored and untyped.message is not None and untyped.message.other_test
    assert filled.ignored and filled.message is None
    assert registered.ignored and registered.message is None
    assert parsed.versions == (crp.message,)  # a resend's versions: the trial results


def _stored_crp() -> IngestLabMessage:
    message = parse_observation(_resource("OBS-1"), "LIS", "HOSP", lambda n: f"h({n})")
    return IngestLabMessage(message, lambda: "", RECEIVED)


def _other_test(identifier: str, status: str = "final") -> IngestLabMessage:
    (entry,) = _batch(_resource(identifier, "2345-7", status)).entries
    assert entry.message is not None
    return IngestLabMessage(entry.message, lambda: "", RECEIVED)


@pytest.mark.parametrize("status", ["final", "preliminary"])
async def test_the_fast_paths_write_sends_it_to_be_read_and_refused(status: str) -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    (stored,) = await ingest([_stored_crp()])
    assert stored.accepted and len(db.results) == 1
    refused_before, lookups = db.refused, db.lookups
    (outcome,) = await ingest([_other_test("OBS-1", status)])
    assert not outcome.accepted and outcome.code is RejectionCode.OTHER_ANALYTES_RESULT
    assert "Observation.identifier" in outcome.reason and "2345-7" not in outcome.reason
    assert db.refused == refused_before + 1 and db.lookups == lookups + 1  # then read
    assert len(db.results) == 1


async def test_under_an_unused_identifier_it_stays_on_the_fast_path_and_is_ignored() -> None:
    """Other tests' Observations under identifiers of their own: written on assumptions,
    never read (no read per message on the fast path), nothing of them kept."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest([_stored_crp()])
    lookups, messages = db.lookups, len(db.messages)
    outcomes = await ingest([_other_test(f"GLU-{n}") for n in range(20)])
    assert outcomes == [IngestOutcome(accepted=True, ignored=True)] * 20
    assert db.lookups == lookups and len(db.messages) == messages and len(db.results) == 1


async def test_another_patient_or_nobody_under_it() -> None:
    """Another enrolled patient's glucose under the CRP's identifier: refused
    result-of-another-patient; a patient not enrolled: ignored, nothing kept."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(MRN2)": "S-2"})
    ingest = ingestor(db)
    await ingest([_stored_crp()])
    theirs = _other_test("OBS-1")
    for number, code in (("MRN2", RejectionCode.OTHER_PATIENTS_RESULT), ("MRN3", None)):
        message = theirs.message
        other = IngestLabMessage(
            LabMessage(message.channel, message.source_application, message.source_facility,
                       f"{message.control_id}-{number}", number, message.observations,
                       other_test=True),
            lambda: "", RECEIVED,
        )  # fmt: skip
        (outcome,) = await ingest([other])
        assert outcome.code is code and outcome.accepted is (code is None), outcome
    assert len(db.results) == 1
