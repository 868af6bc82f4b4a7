"""Task 217, through the real ``POST /fhir/Observation`` and ``POST /fhir`` (PostgreSQL and
broker).

A FHIR result is keyed by its first untyped identifier as written, without the test
(``result_identifiers``): a FHIR Observation of another test (glucose ``2345-7``) under the
untyped identifier of the patient's stored CRP was ignored (200 in a batch Bundle, nothing
kept) or refused ``unknown-analyte`` alone, whatever its status, the CRP standing: a
mis-coded resend or correction of a trial result lost, nobody told. It is refused
``result-of-another-analyte`` (another patient's: ``result-of-another-patient``), kept and
published on lab.rejected.v1: alone a 422 OperationOutcome, in a batch its entry 422, a
transaction whole. On the fast path too (the entry planned without a read: its write checks
the identifier holds nothing, and a batch it refuses is read and planned again). Under an
identifier holding nothing, or only a withdrawn result, and under a FILL identifier (keyed
with the test), it is ignored as before.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_fhir_versions import bundle, standing_values
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_review197 import _enrol, _kept

pytestmark = pytest.mark.integration

REPLANNED = "lab_batches_replanned_total"
STATUSES = ["final", "preliminary", "corrected", "amended", "cancelled", "entered-in-error"]
OTHER_MRN = "MRN999"


def glucose(identifier: str, status: str = "final", *, typed: str | None = None) -> dict[str, Any]:
    """A FHIR glucose Observation of the patient under ``identifier`` (untyped, or of HL7
    table 0203 type ``typed``)."""
    observation = crp_observation(identifier)
    if typed is not None:
        observation["identifier"][0]["type"] = {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": typed}
        ]}  # fmt: skip
    observation["code"] = {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}
    observation["valueQuantity"] = {
        "value": 5.4, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L",
    }  # fmt: skip
    observation["status"] = status
    return observation


def of_patient(observation: dict[str, Any], mrn: str) -> dict[str, Any]:
    observation["subject"] = {"identifier": {"system": "urn:hosp", "value": mrn}}
    return observation


async def answered(lab: Lab, path: str, body: dict[str, Any]) -> tuple[int, list[Any]]:
    """The answer's status, and each Bundle entry's (status, its issue's text), or for an
    OperationOutcome its issues."""
    status, answer = await lab.post_fhir(path, body)
    if answer.get("resourceType") == "OperationOutcome":
        return status, answer["issue"]
    return status, [
        (int(e["response"]["status"].split()[0]),
         e["response"]["outcome"]["issue"][0].get("diagnostics", ""))
        for e in answer.get("entry", [])
    ]  # fmt: skip


async def store_crp(lab: Lab, identifier: str = "OBS-1", mrn: str | None = None) -> None:
    """The patient's CRP 20 under ``identifier``; the service then knows the patient (the
    next message of theirs takes the fast path)."""
    crp = crp_observation(identifier)
    if mrn is not None:
        of_patient(crp, mrn)
    assert (await lab.post_fhir("/fhir/Observation", crp))[0] == 201


def refused_for_the_crp(text: str, code: str = "result-of-another-analyte") -> None:
    assert text.startswith(f"{code}: "), text
    assert "2345-7" not in text and "5.4" not in text, text
    if code == "result-of-another-analyte":
        assert "1988-5" in text, text  # the code to send


async def kept_and_published(lab: Lab, code: str = "result-of-another-analyte") -> None:
    kept = await _kept(lab)
    assert [c for c, _ in kept] == [code], kept
    assert "2345-7" not in kept[0][1] and OTHER_MRN not in kept[0][1], kept
    (event,) = await lab.events(LAB_REJECTED, 1)
    assert event.payload["reason_code"] == code


@pytest.mark.parametrize("status", STATUSES)
async def test_in_a_batch_its_entry_is_refused_and_kept(lab: Lab, status: str) -> None:
    """The CRP under OBS-1 stored; a batch of a new CRP (OBS-2) and glucose under OBS-1: the
    glucose entry was answered 200 ignored, the CRP standing: 422, kept, published; the new
    CRP stored."""
    await store_crp(lab)
    replanned = await lab.metric(REPLANNED)
    body = bundle("batch", [crp_observation("OBS-2"), glucose("OBS-1", status)])
    answer, entries = await answered(lab, "/fhir", body)
    assert answer == 200 and [s for s, _ in entries] == [201, 422], entries
    refused_for_the_crp(entries[1][1])
    assert await standing_values(lab) == [20.0, 20.0]
    await kept_and_published(lab)
    if status in ("final", "preliminary"):  # the fast path's write sent it to be read
        assert await lab.metric(REPLANNED) > replanned


@pytest.mark.parametrize("status", STATUSES)
async def test_posted_alone_it_is_refused_for_the_crp(lab: Lab, status: str) -> None:
    """Glucose alone under OBS-1 was refused unknown-analyte (no trial result), the CRP
    standing unseen: refused result-of-another-analyte, naming the code to send."""
    await store_crp(lab)
    answer, issues = await answered(lab, "/fhir/Observation", glucose("OBS-1", status))
    assert answer == 422, issues
    refused_for_the_crp(issues[0]["diagnostics"])
    assert await standing_values(lab) == [20.0]
    await kept_and_published(lab)


@pytest.mark.parametrize("status", ["final", "corrected", "entered-in-error"])
async def test_a_transaction_holding_it_is_refused_whole(lab: Lab, status: str) -> None:
    """A transaction of a new CRP (OBS-2) and glucose under OBS-1: refused whole (422
    naming the glucose entry), nothing of it stored, kept once."""
    await store_crp(lab)
    body = bundle("transaction", [crp_observation("OBS-2"), glucose("OBS-1", status)])
    answer, issues = await answered(lab, "/fhir", body)
    assert answer == 422, issues
    assert issues[0]["expression"][0].startswith("Bundle.entry[1].resource"), issues
    assert "result-of-another-analyte" in issues[0]["diagnostics"], issues
    assert "2345-7" not in issues[0]["diagnostics"], issues
    assert await standing_values(lab) == [20.0]
    await kept_and_published(lab)


async def test_on_the_careful_path_too(lab: Lab) -> None:
    """Glucose final under OBS-1 with a second identifier (which stored result they name
    is read: the careful path), in a batch: refused, never ignored."""
    await store_crp(lab)
    replanned = await lab.metric(REPLANNED)
    sugar = glucose("OBS-1")
    sugar["identifier"].append({"system": "urn:lab", "value": "GLU-77"})
    answer, entries = await answered(lab, "/fhir", bundle("batch", [sugar]))
    assert answer == 200 and [s for s, _ in entries] == [422], entries
    refused_for_the_crp(entries[0][1])
    assert await lab.metric(REPLANNED) == replanned  # read first: nothing to replan
    await kept_and_published(lab)


@pytest.mark.parametrize("path", ["batch", "alone"])
async def test_another_patients_is_refused_never_naming_them(lab: Lab, path: str) -> None:
    """Patient A's CRP under OBS-1; patient B (enrolled) sends glucose under OBS-1: refused
    result-of-another-patient; nothing of B's stored."""
    await _enrol(lab, "S-102", OTHER_MRN)
    await store_crp(lab)
    await store_crp(lab, "OBS-B0", OTHER_MRN)  # B known: the fast path next
    sugar = of_patient(glucose("OBS-1"), OTHER_MRN)
    if path == "batch":
        answer, entries = await answered(lab, "/fhir", bundle("batch", [sugar]))
        assert answer == 200 and [s for s, _ in entries] == [422], entries
        text = entries[0][1]
    else:
        answer, issues = await answered(lab, "/fhir/Observation", sugar)
        assert answer == 422, issues
        text = issues[0]["diagnostics"]
    refused_for_the_crp(text, "result-of-another-patient")
    assert await standing_values(lab) == [20.0, 20.0]
    await kept_and_published(lab, "result-of-another-patient")


@pytest.mark.parametrize("kind", ["batch", "transaction"])
async def test_under_an_identifier_holding_nothing_it_is_still_ignored(lab: Lab, kind: str) -> None:
    """Glucose under GLU-1 (nothing stored there), under OBS-1 once its CRP was withdrawn,
    and under OBS-3's FILL number (keyed with the test) beside its CRP: ignored (200),
    nothing kept, the CRPs beside stored."""
    await store_crp(lab)
    withdrawn = crp_observation("OBS-1") | {"status": "entered-in-error"}
    assert (await lab.post_fhir("/fhir/Observation", withdrawn))[0] == 200
    filled = crp_observation("OBS-3")
    filled["identifier"] = glucose("OBS-3", typed="FILL")["identifier"]
    assert (await lab.post_fhir("/fhir/Observation", filled))[0] == 201
    for index, status in enumerate(["final", "corrected", "entered-in-error"]):
        others = [glucose("GLU-1", status), glucose("OBS-1", status),
                  glucose("OBS-3", status, typed="FILL")]  # fmt: skip
        body = bundle(kind, [crp_observation(f"NEW-{index}"), *others])
        answer, entries = await answered(lab, "/fhir", body)
        assert answer == 200 and [s for s, _ in entries] == [201, 200, 200, 200], entries
        assert all("ignored" in text for _, text in entries[1:]), entries
    assert await _kept(lab) == []
    assert await standing_values(lab) == [20.0, 20.0, 20.0, 20.0]
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == 6


async def test_alone_under_an_identifier_holding_nothing_it_is_refused_as_before(
    lab: Lab,
) -> None:
    """Alone under GLU-1 (nothing stored): the whole message holds no trial result, refused
    unknown-analyte as before (README)."""
    await store_crp(lab)
    answer, issues = await answered(lab, "/fhir/Observation", glucose("GLU-1"))
    assert answer == 422 and issues[0]["diagnostics"].startswith("unknown-analyte: "), issues
    assert await standing_values(lab) == [20.0]
