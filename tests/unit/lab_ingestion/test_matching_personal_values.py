"""The patient's personal values run into an accepted message's ids are masked there.

Some laboratory systems build MSH-10 or an order number from the patient's name, birth date,
account or visit number (``DOE-19580214``, ``VISIT998877-1``), or a FHIR Observation
identifier from the name; both are stored (``messages.control_id``, ``results.result_key``)
and published. Each value gives way to a prefix of its keyed hash, as the hospital number
does, the same each time (a resend is found, a correction finds its result); the ACK still
echoes MSH-10 as sent. A hospital number written in groups (``987.654.321``) is masked as its
digits too, with the number's replacement, in every channel.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import LabMessage
from tests.unit.lab_ingestion.hl7_samples import join, msh, seg
from tests.unit.lab_ingestion.route_fakes import (
    JSON_BODY,
    LAB,
    PATIENT,
    PATIENT_URL,
    FakeSubmit,
    bundle,
    hash_identifier,
    lab_client,
    observation,
)

NAME = "ZZQXNAME"
MRN = "987654321"
BIRTH = "19510317"
EXTERNAL = "EXT9876543"  # PID-2: the patient's number as another system knows it
ACCOUNT = "ACC7654321"  # PID-18
AHV = "7561234567897"  # PID-19 (Swiss AHV / SSN)
VISIT = "VIS24681357"  # PV1-19

PERSONAL = {"name": NAME, "birth": BIRTH, "external": EXTERNAL, "account": ACCOUNT,
            "ahv": AHV, "visit": VISIT, "birth written DD.MM.YYYY": "17.03.1951"}  # fmt: skip


def mark(value: str) -> str:
    return f"#{hash_identifier(value)[:12]}"


def message(control_id: str, placer: str, filler: str, *, status: str = "F", pid5: str = "") -> str:
    return join([
        msh(control_id=control_id),
        seg("PID", {1: "1", 2: EXTERNAL, 3: f"{MRN}^^^NORTHLAB^MR", 5: pid5 or f"{NAME}^ANNA",
                    7: BIRTH, 8: "F", 18: ACCOUNT, 19: AHV}),
        seg("PV1", {1: "1", 2: "O", 19: VISIT}),
        seg("OBR", {1: "1", 2: placer, 3: filler, 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12.5", 6: "mg/L", 11: status}),
    ])  # fmt: skip


def stored_ids(parsed: LabMessage) -> list[str]:
    """What ``messages.control_id`` and ``results.result_key`` would hold."""
    return [parsed.control_id, *(o.result_key for o in parsed.observations)]


@pytest.mark.parametrize("kind", sorted(PERSONAL))
def test_a_personal_value_in_the_message_id_and_order_numbers_is_masked(kind: str) -> None:
    value = PERSONAL[kind]
    parsed, header = parse_oru(
        message(f"M-{value}", f"P-{value}", f"F-{value}-1"), identify=hash_identifier
    )
    assert not any(value in written for written in stored_ids(parsed)), stored_ids(parsed)
    assert parsed.control_id == f"M-{mark(value)}"
    assert header.control_id == f"M-{value}"  # the ACK echoes MSH-10 as sent


def test_the_hospital_number_is_masked_as_before() -> None:
    parsed, _ = parse_oru(message(f"M-{MRN}", "P1", f"F-{MRN}"), identify=hash_identifier)
    assert parsed.control_id == f"M-{mark(MRN)}"
    assert [o.result_key for o in parsed.observations] == [f"F-{mark(MRN)}|1988-5|"]


@pytest.mark.parametrize(
    ("filler", "key"),
    [
        ("ROE-1", f"{mark('ROE')}-1"),
        ("PROE1", "PROE1"),  # another word: left as sent
        ("MAYER7", "MAYER7"),
        ("MAYER-7", f"{mark('MAYER')}-7"),  # a part of the double name ROE-MAYER
        ("AB-7", "AB-7"),  # a name of two letters is not searched for
    ],
)
def test_a_name_is_masked_in_an_order_number_only_as_a_whole_word(filler: str, key: str) -> None:
    text = message("C-1", "P1", filler, pid5="ROE-MAYER^AB")
    parsed, _ = parse_oru(text, identify=hash_identifier)
    assert [o.result_key for o in parsed.observations] == [f"{key}|1988-5|"]


def test_a_resend_and_a_correction_are_masked_as_the_message_they_follow() -> None:
    """The same message again is found as its duplicate (the same control id); a correction
    under the same order number finds the result it corrects (the same key)."""
    final, _ = parse_oru(message(f"DOE-{BIRTH}", "P1", f"{VISIT}-1"), identify=hash_identifier)
    again, _ = parse_oru(message(f"DOE-{BIRTH}", "P1", f"{VISIT}-1"), identify=hash_identifier)
    corrected, _ = parse_oru(
        message("C-2", "P1", f"{VISIT}-1", status="C"), identify=hash_identifier
    )
    assert again == final
    assert corrected.observations[0].result_key == final.observations[0].result_key


def test_an_escaped_name_is_masked_as_the_id_reads_it() -> None:
    """PID-5 ``M\\XC39C\\LLER`` is MÜLLER; in an order number written the same way, the id
    reads it a byte a character (as MSH-10 and OBR-3 are read)."""
    escaped = r"M\XC39C\LLER"
    parsed, _ = parse_oru(
        message("C-1", "P1", f"{escaped}-1", pid5=f"{escaped}^ANNA"), identify=hash_identifier
    )
    (result,) = parsed.observations
    assert result.result_key.startswith("#") and "LLER" not in result.result_key


def test_a_name_or_number_the_parser_cannot_unescape_never_rejects_the_message() -> None:
    """PID-5 and PID-18 are read only to be masked: an escape they hold that cannot be read
    (a NUL, a formatting escape repeated without end) is taken as written, never an error."""
    text = join([
        msh(control_id="C-1"),
        seg("PID", {1: "1", 3: f"{MRN}^^^NORTHLAB^MR", 5: r"ROE\X00\^ANNA",
                    18: r"ACC\.sp99999\1234"}),
        seg("OBR", {1: "1", 2: "P1", 3: "ANNA-1", 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12.5", 6: "mg/L", 11: "F"}),
    ])  # fmt: skip
    parsed, _ = parse_oru(text, identify=hash_identifier)
    assert stored_ids(parsed) == ["C-1", f"{mark('ANNA')}-1|1988-5|"]


# --- a hospital number written in groups: its digits in the ids ----------------------------

GROUPED = "987.654.321"


def test_an_hl7_hospital_number_written_in_groups_is_masked_as_its_digits() -> None:
    text = join([
        msh(control_id=f"{MRN}-1"),
        seg("PID", {1: "1", 3: f"{GROUPED}^^^NORTHLAB^MR"}),
        seg("OBR", {1: "1", 2: "P1", 3: f"F{MRN}", 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12.5", 6: "mg/L", 11: "F"}),
    ])  # fmt: skip
    parsed, _ = parse_oru(text, identify=hash_identifier)
    assert stored_ids(parsed) == [f"{mark(GROUPED)}-1", f"F{mark(GROUPED)}|1988-5|"]


async def test_a_json_hospital_number_written_in_groups_is_masked_as_its_digits() -> None:
    body: dict[str, Any] = copy.deepcopy(JSON_BODY)
    body["message_id"] = f"{MRN}-3"
    body["patient"] = {"identifier": GROUPED}
    body["results"][0]["result_id"] = f"{MRN}-R1"
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        answer = await client.post("/v1/lab-results", data=json.dumps(body), headers=LAB)
        assert answer.status == 202, await answer.text()
    (ingest,) = submit.ingests
    assert stored_ids(ingest.message) == [f"{mark(GROUPED)}-3", f"{mark(GROUPED)}-R1"]


# --- FHIR: the Patient's name, birth date or other identifier in an Observation identifier --


async def fhir_result_keys(patient: dict[str, Any], **changes: Any) -> list[str]:
    """The result keys of an Observation posted in a batch with ``patient``; its
    ``identifier`` and ``subject`` as given in ``changes``."""
    obs = observation(id="crp-1", subject={"reference": PATIENT_URL})
    obs.update(changes)
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        answer = await client.post(
            "/fhir", data=json.dumps(bundle("batch", patient, obs)), headers=LAB
        )
        assert answer.status == 200
    (ingest,) = submit.ingests
    return [o.result_key for o in ingest.message.observations]


def identified(value: str) -> list[dict[str, str]]:
    return [{"system": "urn:lis", "value": value}]


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (f"{NAME}-CRP-1", f"{mark(NAME)}-CRP-1"),
        ("1951-03-17-CRP-1", f"{mark('1951-03-17')}-CRP-1"),
        ("CRP-17.03.1951", f"CRP-{mark('17.03.1951')}"),
        (f"CRP-{AHV}", f"CRP-{mark(AHV)}"),  # an identifier of another type (national)
    ],
)
async def test_a_fhir_patients_personal_value_in_the_observation_identifier_is_masked(
    value: str, masked: str
) -> None:
    patient = copy.deepcopy(PATIENT)
    patient["name"] = [{"family": NAME, "given": ["ANNA"]}]
    patient["birthDate"] = "1951-03-17"
    patient["identifier"].append({
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                             "code": "NI"}]},
        "system": "urn:oid:2.16.756.5.32", "value": AHV,
    })  # fmt: skip
    keys = await fhir_result_keys(patient, identifier=identified(value))
    assert keys == [f"urn:lis|{masked}"]


async def test_a_fhir_subjects_display_and_contained_patient_are_masked_too() -> None:
    """The reference's display (a name, as often as not) and a contained Patient's name."""
    display = await fhir_result_keys(
        PATIENT,
        identifier=identified("ROE-CRP-1"),
        subject={"reference": PATIENT_URL, "display": "Anna Roe"},
    )
    assert display == [f"urn:lis|{mark('Roe')}-CRP-1"]
    contained = {**copy.deepcopy(PATIENT), "id": "p1", "name": [{"family": "Roe"}]}
    inside = await fhir_result_keys(
        PATIENT,
        identifier=identified("ROE-CRP-1"),
        subject={"reference": "#p1"},
        contained=[contained],
    )
    assert inside == [f"urn:lis|{mark('Roe')}-CRP-1"]
