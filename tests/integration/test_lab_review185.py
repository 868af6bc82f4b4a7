"""Review 185 through the real MLLP socket and POST /fhir/Observation, database and broker:
an alternate id in PID-4 (review 190), a correction under a number the subject's enrolment no
longer names, identifying numbers run into ids of a kept copy, and a FHIR Patient replaced
by another record."""

from __future__ import annotations

import asyncpg
import pytest

from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import LAB_REJECTED, TRIAL_SUBJECTS
from shared.secrets import subject_hmac_key
from tests.factories import subject_enrolled
from tests.integration.lab_fixtures import crp_observation
from tests.integration.messaging_fixtures import migrated_pool, record
from tests.integration.test_lab_ingestion import SUBJECT, Lab
from tests.integration.test_lab_late_enrolment import relay_until
from tests.integration.test_lab_real_message_shapes import exchange, j, stored

pytestmark = pytest.mark.integration

TS = "20261120081500+0100"


def msh(cid: str, version: str = "2.5.1") -> str:
    return f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{cid}|P|{version}"


def anc(order: str, status: str = "F", value: str = "0.3", unit: str = "10*9/L") -> list[str]:
    return [f"OBR|1|PLC{order}|{order}|LAB^Lab panel|||{TS}",
            f"OBX|1|NM|751-8^Test^LN||{value}|{unit}|||||{status}|||{TS}"]  # fmt: skip


def crp(order: str, status: str, value: str) -> list[str]:
    return [f"OBR|1|PLC{order}|{order}|CRP^CRP panel^L|||{TS}",
            f"OBX|1|NM|1988-5^CRP^LN||{value}|mg/L|0-5|H|||{status}|||{TS}"]  # fmt: skip


async def kept(lab: Lab) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await lab.pool.fetch(
        "SELECT control_id, reason_code, reason, payload FROM rejections ORDER BY received_at"
    )
    return rows


@pytest.mark.parametrize("version", ["2.3", "2.5.1"])
async def test_an_alternate_id_in_pid4_never_displaces_the_patients_number(
    lab: Lab, version: str
) -> None:
    """Review 190: PID-4, read as one more patient number (review 185), let a typed MR there
    displace PID-3's number (the result discarded as not enrolled) and refused an alternate
    id beside it as ambiguous. PID-4, the alternate id HL7 defines as another number of the
    same patient, is not read as the patient's number: PID-3 decides, as before."""
    acks = await exchange(
        lab,
        j(msh("P4-1", version), "PID|1||MRN4711|OLD9999^^^^MR", *anc("O-P4-1")),
        j(msh("P4-2", version), "PID|1||MRN4711|L997", *anc("O-P4-2")),
        j(msh("P4-3", version), "PID|1||MRN4711^^^HOSP^MR|L997^^^LAB", *anc("O-P4-3")),
    )
    assert [a[1] for a in acks] == ["AA"] * 3, acks
    for control_id in ("P4-1", "P4-2", "P4-3"):
        assert [row[:2] for row in await stored(lab, control_id)] == [("neutrophils", 0.3)]


async def correct_the_enrolment(lab: Lab, database: str, number: str) -> None:
    """trial.subjects.v1 publishes S-100 again, under the hospital number ``number``."""
    enrolment = subject_enrolled(SUBJECT)
    hmac = hospital_id_hmac(subject_hmac_key(lab.settings), number)
    enrolment = enrolment.model_copy(
        update={"payload": {**enrolment.payload, "hospital_id_hmac": hmac}}
    )
    enroller = await migrated_pool(database, "enroller")
    await record(enroller, TRIAL_SUBJECTS, [enrolment], commit=True)

    async def read() -> bool:
        query = "SELECT count(*) FROM enrolled_subjects WHERE hospital_id_hmac = $1"
        return bool(await lab.pool.fetchval(query, hmac))

    await relay_until(lab, enroller, read)


async def test_corrections_under_the_number_an_enrolment_no_longer_names_are_kept(
    lab: Lab, database: str
) -> None:
    """S-100's final CRP 40 stored under MRN4711; the enrolment corrected to MRN4712; the
    lab's C (95) and X under MRN4711 were "patient not enrolled, discarded" and the 40
    stood. Now each is refused and kept (AE, lab.rejected.v1); a new result of MRN4711 is
    still discarded; the correction sent under MRN4712 is applied."""
    pid = "PID|1||MRN4711^^^HOSP^MR"
    (first,) = await exchange(lab, j(msh("C-1"), pid, *crp("ORD-A", "F", "40")))
    assert first[1] == "AA", first
    await correct_the_enrolment(lab, database, "MRN4712")
    acks = await exchange(
        lab,
        j(msh("C-2"), pid, *crp("ORD-A", "C", "95")),
        j(msh("C-3"), pid, *crp("ORD-A", "X", "")),
        j(msh("C-4"), pid, *crp("ORD-B", "F", "41")),
    )
    assert [a[1] for a in acks] == ["AE", "AE", "AA"], acks
    assert acks[2][3] == "accepted; patient not enrolled, discarded"
    rejections = await kept(lab)
    assert [r["reason_code"] for r in rejections] == ["result-of-another-patient"] * 2
    assert "current hospital number" in rejections[0]["reason"]
    standing = await lab.pool.fetch("SELECT value, status FROM results WHERE cancelled_at IS NULL")
    assert [(r["value"], r["status"]) for r in standing] == [(40.0, "F")]
    events = await lab.events(LAB_REJECTED, 2)
    assert [e.payload["reason_code"] for e in events] == ["result-of-another-patient"] * 2
    (current,) = await exchange(
        lab, j(msh("C-5"), "PID|1||MRN4712^^^HOSP^MR", *crp("ORD-A", "C", "95"))
    )
    assert current[1] == "AA", current
    standing = await lab.pool.fetch(
        "SELECT value FROM results WHERE cancelled_at IS NULL ORDER BY recorded_at"
    )
    assert [r["value"] for r in standing] == [40.0, 95.0]  # the correction supersedes it


PID_AND_MORE = {
    "PID-18 account": ("PID|1||MRN4711^^^HOSP^MR" + "|" * 15 + "ACCT77665544", "", "ACCT77665544"),
    "PID-19 SSN": ("PID|1||MRN4711^^^HOSP^MR" + "|" * 16 + "123-45-6789", "", "123-45-6789"),
    "PV1-19 visit": ("PID|1||MRN4711^^^HOSP^MR", "PV1|1|O" + "|" * 17 + "VISIT55443322",
                     "VISIT55443322"),
    "MRG-1 prior": ("PID|1||MRN4711^^^HOSP^MR", "MRG|OLDMRN5566^^^HOSP^MR", "OLDMRN5566"),
}  # fmt: skip


async def test_identifying_numbers_run_into_ids_are_masked_in_kept_copies(lab: Lab) -> None:
    """A rejected message (unit furlongs) with an SSN, an account, a visit or a prior
    number run into MSH-10, ORC-2/3, OBR-2/3 and SPM-2: the rejection's control id and its
    copy kept them verbatim. Now masked as PID-3's numbers are (``#`` and a hash prefix);
    the birth place blanked in PID and repeated in a note is scrubbed there."""
    messages = []
    for index, (pid, segment, number) in enumerate(PID_AND_MORE.values()):
        birth_place = "|" * (23 - pid.count("|")) + f"GEBURTSORT{index}"
        messages.append(j(
            msh(f"M{number}9"), pid + birth_place, *([segment] if segment else []),
            f"ORC|RE|P{number}|F{number}", *anc(f"F{number}", unit="furlongs"),
            f"NTE|1||Geburtsort GEBURTSORT{index}", f"SPM|1|S{number}",
        ))  # fmt: skip
    acks = await exchange(lab, *messages)
    assert [a[1] for a in acks] == ["AE"] * len(messages), acks
    rejections = await kept(lab)
    assert [r["reason_code"] for r in rejections] == ["unconvertible-unit"] * len(messages)
    for rejection, (_, _, number) in zip(rejections, PID_AND_MORE.values(), strict=True):
        assert number not in rejection["payload"] and number not in rejection["control_id"]
        assert rejection["control_id"].startswith("M#"), rejection["control_id"]
        assert "GEBURTSORT" not in rejection["payload"], rejection["payload"]


async def test_a_fhir_patient_replaced_by_another_record_is_refused_and_kept(lab: Lab) -> None:
    """A contained Patient MRN9999 linked replaced-by MRN4711 (an enrolled subject's) was
    discarded as not enrolled (200). Now refused (Patient.link named) and kept."""
    patient = {
        "resourceType": "Patient", "id": "p1",
        "identifier": [{"system": "urn:hosp", "value": "MRN9999",
                        "type": {"coding": [{"code": "MR"}]}}],
        "link": [{"type": "replaced-by",
                  "other": {"identifier": {"system": "urn:hosp", "value": "MRN4711"}}}],
    }  # fmt: skip
    body = crp_observation("LINKED-1") | {"contained": [patient], "subject": {"reference": "#p1"}}
    status, answer = await lab.post_fhir("/fhir/Observation", body)
    assert status in (400, 422), (status, answer)
    assert "Patient.link" in answer["issue"][0]["diagnostics"]
    rejections = await kept(lab)
    assert len(rejections) == 1 and "Patient.link" in rejections[0]["reason"]
    assert "MRN9999" not in rejections[0]["payload"]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
