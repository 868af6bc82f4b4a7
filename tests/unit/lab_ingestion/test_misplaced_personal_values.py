"""Personal values where they do not belong never reach a rejection's reason or kept copy.

A reason is stored in ``rejections``, published on ``lab.rejected.v1`` and answered to the
caller; it quotes a sender's text only in the shape expected there (README, Rejections).

1. fhir.resources' "wrong resource type" error quotes the value of a misplaced
   ``resourceType`` whole (a name, a birth date, a nested object's repr): the diagnostics
   name the type the element expects instead.
2. A collection or report time before 2000 is, as often as not, the patient's birth date
   written in the time field: the reason does not quote it, and the kept copy scrubs it as
   the date of a timestamp (``195103170000+0000``, ``1951-03-17T00:00:00+00:00``), not only
   where it is a word of its own.
3. A name's copy in another Unicode spelling of the same letters (``STRAUSS`` for
   ``Strauß``, ``u`` and a combining diaeresis for ``ü``) is scrubbed from the kept copy.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_redacted_copy import RedactedFhir
from services.lab_ingestion.adapters.hl7_codec import parse_oru, redact
from services.lab_ingestion.adapters.json_parser import parse_lab_results
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.domain.records import RejectionRecord
from services.lab_ingestion.domain.sample_times import plausible_report_times
from services.lab_ingestion.service_layer.events import rejected_event
from tests.unit.lab_ingestion.hl7_samples import fake_hash, join, msh, seg
from tests.unit.lab_ingestion.route_fakes import (
    LAB,
    PATIENT,
    FakeSubmit,
    bundle,
    hash_identifier,
    lab_client,
    observation,
)

NAME = "ZZQXNAME"
BIRTH = "19510317"
BIRTH_ISO = "1951-03-17"


# --- 1. a misplaced resourceType is quoted whole -----------------------------------------


@pytest.mark.parametrize(
    "misplaced",
    [f"{NAME} {BIRTH}", {"family": NAME, "birthDate": BIRTH_ISO}],
    ids=["text", "object"],
)
async def test_a_resource_type_inside_an_element_is_not_quoted_in_reason_or_answer(
    misplaced: Any,
) -> None:
    code = {"coding": [{"system": "http://loinc.org", "code": "1988-5"}],
            "resourceType": misplaced}  # fmt: skip
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        answer = await client.post("/fhir/Observation", json=observation(code=code), headers=LAB)
        status, text = answer.status, await answer.text()
    assert status == 400
    (rejection,) = submit.rejections
    assert NAME not in rejection.reason, rejection.reason  # stored and published
    assert NAME not in text, text  # OperationOutcome diagnostics


async def test_a_patients_name_in_a_misplaced_resource_type_reaches_no_rejected_event() -> None:
    """A batch Bundle whose Patient's HumanName carries a resourceType (a mapping tool's
    artefact) holding the name: the entry's rejection reason, as published, quotes it."""
    patient = copy.deepcopy(PATIENT)
    patient["name"] = [{"family": NAME, "given": ["JANE"], "resourceType": f"{NAME}, JANE"}]
    patient["birthDate"] = BIRTH_ISO
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        body = json.dumps(bundle("transaction", patient, observation()))
        answer = await client.post("/fhir", data=body, headers=LAB)
        text = await answer.text()
    (rejection,) = submit.rejections
    assert NAME not in rejection.redacted_payload  # the copy is scrubbed ...
    record = RejectionRecord(
        rejection.rejection_id, rejection.channel.value, rejection.source, None,
        rejection.code, rejection.reason, rejection.redacted_payload, rejection.received_at,
        None, None,
    )  # fmt: skip
    published = rejected_event(record).payload["reason"]
    assert NAME not in published, published  # ... the published reason is not
    assert NAME not in text, text


# --- 2. an implausible time is quoted: a birth date in the time field ---------------------


def _oru(obx_time: str = "202611010800+0000", obr_time: str = "202611010800+0000",
         reported: str = "") -> str:  # fmt: skip
    return join([
        msh(),
        seg("PID", {3: "987654321^^^HOSP^MR", 5: f"{NAME}^JANE", 7: BIRTH}),
        seg("OBR", {1: "1", 3: "ORD1", 7: obr_time}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12", 6: "mg/L", 11: "F",
                    14: obx_time, 19: reported}),
    ])  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        _oru(obx_time=f"{BIRTH}0000+0000"),  # OBX-14: the birth date, as PID-7 with a time
        _oru(obx_time="", obr_time=f"{BIRTH}0000+0000"),  # OBR-7
    ],
    ids=["OBX-14", "OBR-7"],
)
def test_a_birth_date_in_a_time_field_is_not_quoted_in_the_reason(text: str) -> None:
    message, _ = parse_oru(text, identify=fake_hash)
    planned = plan_results(message, UnitParameters(), datetime(2026, 11, 2, tzinfo=UTC))
    assert isinstance(planned, Rejected)
    assert planned.code is RejectionCode.IMPLAUSIBLE_TIME
    assert BIRTH_ISO not in planned.reason, planned.reason  # stored and published


def test_a_birth_date_in_the_report_time_is_dropped_neither_quoted_nor_kept() -> None:
    """A report time refuses no result: one before 2000 is no report time (not stored, not
    published), and there is no reason to quote it in."""
    message, _ = parse_oru(_oru(reported=f"{BIRTH}0000+0000"), identify=fake_hash)
    arrived = datetime(2026, 11, 2, tzinfo=UTC)
    assert message.observations[0].reported_at is not None  # as written: read
    (read,) = plausible_report_times(message, arrived).observations
    assert read.reported_at is None
    assert not isinstance(plan_results(message, UnitParameters(), arrived), Rejected)


@pytest.mark.parametrize("field", ["OBX-14", "OBR-7", "OBX-19"])
def test_a_birth_date_in_a_time_field_is_scrubbed_from_the_kept_copy(field: str) -> None:
    """PID-7 (19510317) is scrubbed where it is a word of its own and where it is the date
    of an HL7 timestamp (195103170000+0000)."""
    stamp = f"{BIRTH}0000+0000"
    text = {"OBX-14": _oru(obx_time=stamp), "OBR-7": _oru(obx_time="", obr_time=stamp),
            "OBX-19": _oru(reported=stamp)}[field]  # fmt: skip
    copy_kept = redact(text, fake_hash)
    assert BIRTH not in copy_kept, copy_kept.replace("\r", "\n")
    assert "0000+0000" in copy_kept  # only the date of the timestamp goes


def test_a_json_collection_time_that_is_a_birth_date_is_not_quoted() -> None:
    body: dict[str, Any] = {
        "message_id": "LAB-1", "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": "987654321"},
        "results": [{"result_id": "R1", "loinc": "1988-5", "value": "12", "unit": "mg/L",
                     "status": "final", "collected_at": f"{BIRTH_ISO}T00:00:00+00:00"}],
    }  # fmt: skip
    message = parse_lab_results(json.dumps(body).encode())
    planned = plan_results(message, UnitParameters(), datetime(2026, 11, 2, tzinfo=UTC))
    assert isinstance(planned, Rejected)
    assert BIRTH_ISO not in planned.reason, planned.reason


def test_a_fhir_birth_date_in_a_time_element_is_scrubbed_from_the_kept_copy() -> None:
    """Patient.birthDate is removed and its copies scrubbed, also where it is the date of
    an Observation's effectiveDateTime (``1951-03-17T00:00:00+00:00``)."""
    patient = copy.deepcopy(PATIENT)
    patient["birthDate"] = BIRTH_ISO
    body = bundle("batch", patient, observation(effectiveDateTime=f"{BIRTH_ISO}T00:00:00+00:00"))
    kept = RedactedFhir(body, hash_identifier).whole()
    assert '"birthDate"' not in kept
    assert BIRTH_ISO not in kept, kept


# --- 3. a name's copy in another Unicode spelling of the same letters ---------------------


def _with_note(name: str, note: str) -> str:
    return join([
        msh(),
        seg("PID", {3: "987654321^^^HOSP^MR", 5: f"{name}^ANNA", 7: BIRTH}),
        seg("OBR", {1: "1", 3: "ORD1", 7: "202611010800+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12", 6: "mg/L", 11: "F",
                    14: "202611010800+0000"}),
        seg("NTE", {1: "1", 3: note}),
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("registered", "in_the_note"),
    [
        ("STRAUSS", "Strauß"),  # PID-5 upper case writes ß as SS; a note keeps the ß
        ("Strauß", "STRAUSS"),  # and the other way round
        ("MÜLLER", "Mu\u0308ller"),  # the same letters decomposed (NFD: u + combining ¨)
    ],
    ids=["SS-for-sharp-s", "sharp-s-for-SS", "NFD"],
)
def test_a_name_written_with_other_unicode_letters_is_scrubbed_from_the_copy(
    registered: str, in_the_note: str
) -> None:
    """README: copies are scrubbed "as written and as it reads", in any case; a name whose
    letters are the same (ß upper-cased is SS; NFD is the same text as NFC) is kept."""
    kept = redact(_with_note(registered, f"Frau {in_the_note} nuechtern"), fake_hash)
    note = next(line for line in kept.split("\r") if line.startswith("NTE"))
    assert in_the_note not in note, note


@pytest.mark.parametrize(
    ("pid", "in_the_note"),
    [({19: "756.1234.5678.97"}, "7561234567897"), ({7: BIRTH}, "17-03-1951")],
    ids=["AHV-without-dots", "birth-date-DD-MM-YYYY"],
)
def test_a_number_or_date_in_another_common_spelling_is_scrubbed_from_the_copy(
    pid: dict[int, str], in_the_note: str
) -> None:
    text = join([
        msh(),
        seg("PID", {3: "987654321^^^HOSP^MR", 5: f"{NAME}^ANNA", **pid}),
        seg("OBR", {1: "1", 3: "ORD1", 7: "202611010800+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12", 6: "mg/L", 11: "F",
                    14: "202611010800+0000"}),
        seg("NTE", {1: "1", 3: f"checked {in_the_note} today"}),
    ])  # fmt: skip
    kept = redact(text, fake_hash)
    assert in_the_note not in kept, kept.replace("\r", "\n")
    assert "today" in kept
