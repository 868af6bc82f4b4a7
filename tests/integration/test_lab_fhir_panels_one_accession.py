"""Review 221's regression tests, through the real ``POST /fhir`` and ``POST
/fhir/Observation`` (PostgreSQL and broker): ordinary FHIR panels whose Observations share one
accession number, untyped or typed ACSN (HL7 table 0203), as laboratories send them.

A FHIR result is keyed by its first untyped identifier as written (an ACSN one counts as
untyped), without the test; an Observation of a test the trial does not follow (glucose
``2345-7``, a CBC's WBC) is ignored as another test's, in a Bundle answered 200 and nothing of
it stored or kept. So a panel's glucose never refuses the CRP sent with it: a new panel, its
resend, its preliminary then final versions, a whole-panel correction or withdrawal (the other
test before or after the CRP) and a DiagnosticReport listing the panel are answered as the
CRP alone would be; the other tests' Observations never make a batch be read and planned
again (``lab_batches_replanned_total``). Fixer 217 refused them (a transaction lost its CRP,
resends and corrections were refused); reverted in 691dce3 (review 221).
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_fhir_versions import bundle, standing_values
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_review197 import _kept

pytestmark = pytest.mark.integration

REPLANNED = "lab_batches_replanned_total"
KINDS = ["transaction", "batch"]
TYPINGS = ["untyped", "ACSN"]
STORED = (201, "accepted and stored")
IGNORED = (200, "no result (yet) of an analyte the trial follows: ignored, nothing stored")
DUPLICATE = (200, "duplicate of a result already stored; nothing changed")
WITHDRAWN = (200, "accepted; the earlier result under this identifier was withdrawn: none stored")
REPORT = (200, "DiagnosticReport read as the report's context only; it is not stored")
ISSUED = "2026-11-20T12:00:00+01:00"  # a later version's
GLUCOSE: tuple[str, float, str] = ("2345-7", 5.4, "mmol/L")
CBC_OTHERS: list[tuple[str, float, str]] = [
    ("6690-2", 7.1, "10*9/L"),
    ("789-8", 4.6, "10*12/L"),
    ("787-2", 90, "fL"),
]


def typed(observation: dict[str, Any], typing: str) -> dict[str, Any]:
    """``observation`` with its identifier typed ``typing`` (HL7 table 0203), or untyped."""
    if typing != "untyped":
        observation["identifier"][0]["type"] = {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": typing}
        ]}  # fmt: skip
    return observation


def crp(
    accession: str, typing: str = "untyped", status: str = "final", value: float = 20
) -> dict[str, Any]:
    """The patient's CRP ``value`` mg/L under ``accession``."""
    observation = typed(crp_observation(accession), typing)
    observation["status"] = status
    observation["valueQuantity"]["value"] = value
    return observation


def other(
    accession: str,
    typing: str = "untyped",
    status: str = "final",
    test: tuple[str, float, str] = GLUCOSE,
) -> dict[str, Any]:
    """The patient's Observation of a test the trial does not follow under ``accession``."""
    code, value, unit = test
    observation = crp(accession, typing, status)
    observation["code"] = {"coding": [{"system": "http://loinc.org", "code": code}]}
    observation["valueQuantity"] = {
        "value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit,
    }  # fmt: skip
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


async def results(lab: Lab) -> list[tuple[str, str, float, bool]]:
    """Every stored result: analyte, status, value, withdrawn; in the order stored."""
    rows = await lab.pool.fetch(
        "SELECT analyte, status, value, cancelled_at IS NOT NULL AS withdrawn FROM results"
        " ORDER BY recorded_at"
    )
    return [(r["analyte"], r["status"], r["value"], r["withdrawn"]) for r in rows]


async def known_patient(lab: Lab) -> float:
    """The patient's CRP 20 under WARM (the service then knows them: their next message takes
    the fast path); the batches replanned so far."""
    assert (await lab.post_fhir("/fhir/Observation", crp_observation("WARM")))[0] == 201
    return await lab.metric(REPLANNED)


async def nothing_else_happened(lab: Lab, replanned: float, kind: str = "", again: int = 0) -> None:
    """Nothing kept; no batch read and planned again but for ``again`` batch Bundles' entries
    under a key already holding a result (a resend, a final after its preliminary): written on
    the fast path, each is refused by its write and planned again after a read, as README
    says of a resent message or a second result for one key (a transaction is read at once)."""
    assert await _kept(lab) == []
    assert await lab.metric(REPLANNED) == replanned + (again if kind == "batch" else 0)


@pytest.mark.parametrize("typing", TYPINGS)
@pytest.mark.parametrize("kind", KINDS)
async def test_a_new_panel_stores_its_crp_and_ignores_its_glucose(
    lab: Lab, kind: str, typing: str
) -> None:
    """CRP then glucose under the accession ACC-1 (nothing stored there before): the CRP
    stored, the glucose ignored, a transaction not refused."""
    replanned = await known_patient(lab)
    body = bundle(kind, [crp("ACC-1", typing), other("ACC-1", typing)])
    assert await answered(lab, "/fhir", body) == (200, [STORED, IGNORED])
    assert await results(lab) == [("crp", "F", 20.0, False)] * 2
    await nothing_else_happened(lab, replanned)


@pytest.mark.parametrize("typing", TYPINGS)
@pytest.mark.parametrize("kind", KINDS)
async def test_a_cbc_and_crp_panel_stores_the_crp_only(lab: Lab, kind: str, typing: str) -> None:
    """A CBC's WBC, RBC and MCV (tests the trial does not follow) under the CRP's accession,
    the CRP between them: each ignored, the CRP stored."""
    replanned = await known_patient(lab)
    panel = [other("ACC-7", typing, test=test) for test in CBC_OTHERS]
    body = bundle(kind, [*panel[:2], crp("ACC-7", typing), panel[2]])
    assert await answered(lab, "/fhir", body) == (200, [IGNORED, IGNORED, STORED, IGNORED])
    assert await results(lab) == [("crp", "F", 20.0, False)] * 2
    await nothing_else_happened(lab, replanned)


@pytest.mark.parametrize("typing", TYPINGS)
@pytest.mark.parametrize("kind", KINDS)
async def test_a_whole_panel_sent_again_is_answered_as_a_resend(
    lab: Lab, kind: str, typing: str
) -> None:
    """Glucose before the CRP; the same Bundle resent unchanged (its answer lost): the CRP
    answered 200 (nothing new stored), the glucose ignored again, a transaction not refused."""
    replanned = await known_patient(lab)
    body = bundle(kind, [other("ACC-2", typing), crp("ACC-2", typing)])
    first = await answered(lab, "/fhir", copy.deepcopy(body))
    assert first == (200, [IGNORED, STORED])
    messages = await lab.pool.fetchval("SELECT count(*) FROM messages")
    assert await answered(lab, "/fhir", copy.deepcopy(body)) == (200, [IGNORED, DUPLICATE])
    assert await results(lab) == [("crp", "F", 20.0, False)] * 2
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == messages
    await nothing_else_happened(lab, replanned, kind, again=1)


@pytest.mark.parametrize("typing", TYPINGS)
@pytest.mark.parametrize("kind", KINDS)
async def test_a_preliminary_panel_then_its_final(lab: Lab, kind: str, typing: str) -> None:
    """CRP 15 and glucose preliminary, then CRP 20 and glucose final: the final CRP stands."""
    replanned = await known_patient(lab)
    prelim = [crp("ACC-P", typing, "preliminary", 15), other("ACC-P", typing, "preliminary")]
    first = await answered(lab, "/fhir", bundle(kind, prelim))
    assert first == (200, [STORED, IGNORED])
    assert await standing_values(lab) == [20.0]  # a preliminary value is not a standing one
    final = crp("ACC-P", typing) | {"issued": ISSUED}
    second = await answered(lab, "/fhir", bundle(kind, [final, other("ACC-P", typing)]))
    assert second == (200, [STORED, IGNORED])
    assert [r[:3] for r in await results(lab)] == [
        ("crp", "F", 20.0), ("crp", "P", 15.0), ("crp", "F", 20.0)
    ]  # fmt: skip
    assert await standing_values(lab) == [20.0, 20.0]  # a new final, beside no other
    await nothing_else_happened(lab, replanned, kind, again=1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("order", ["crp-first", "glucose-first"])
@pytest.mark.parametrize("status", ["corrected", "entered-in-error"])
async def test_a_whole_panel_corrected_or_withdrawn(
    lab: Lab, kind: str, order: str, status: str
) -> None:
    """The panel stored; then the lab corrects (CRP 80) or withdraws the whole panel in one
    Bundle, the accession on each Observation: the CRP's change applied, the glucose's
    ignored."""
    replanned = await known_patient(lab)
    stored = await answered(lab, "/fhir", bundle(kind, [other("ACC-9"), crp("ACC-9")]))
    assert stored == (200, [IGNORED, STORED])
    changed = crp("ACC-9", status=status, value=80) | {"issued": ISSUED}
    step = 1 if order == "crp-first" else -1
    panel = [changed, other("ACC-9", status=status)][::step]
    status_code, entries = await answered(lab, "/fhir", bundle(kind, panel))
    by_test = dict(zip(["crp", "glucose"][::step], entries, strict=True))
    assert status_code == 200 and by_test["glucose"] == IGNORED, entries
    if status == "corrected":
        assert by_test["crp"] == STORED, entries
        assert await standing_values(lab) == [20.0, 80.0]  # 80 supersedes the panel's 20
        assert [r[:3] for r in await results(lab)][1:] == [("crp", "F", 20.0), ("crp", "C", 80.0)]
    else:
        assert by_test["crp"] == WITHDRAWN, entries
        assert await standing_values(lab) == [20.0]  # the panel's CRP withdrawn
        assert [r[3] for r in await results(lab)] == [False, True]
    await nothing_else_happened(lab, replanned)


async def test_a_report_bundle_listing_the_panel(lab: Lab) -> None:
    """A transaction of a DiagnosticReport listing the CRP and the glucose, each Observation
    and the report under the accession ACC-R: the CRP stored, the glucose ignored."""
    replanned = await known_patient(lab)
    body = bundle("transaction", [crp("ACC-R"), other("ACC-R")])
    body["entry"].append({
        "fullUrl": "urn:uuid:00000000-0000-0000-0000-0000000000dd",
        "resource": {
            "resourceType": "DiagnosticReport", "status": "final",
            "identifier": [{"system": "urn:lab", "value": "ACC-R"}],
            "code": {"text": "chemistry"}, "subject": crp("ACC-R")["subject"],
            "result": [{"reference": e["fullUrl"]} for e in body["entry"]],
        },
        "request": {"method": "POST", "url": "DiagnosticReport"},
    })  # fmt: skip
    status, entries = await answered(lab, "/fhir", body)
    assert (status, entries) == (200, [STORED, IGNORED, REPORT])
    assert await results(lab) == [("crp", "F", 20.0, False)] * 2
    await nothing_else_happened(lab, replanned)


async def test_the_panel_posted_one_at_a_time(lab: Lab) -> None:
    """The CRP alone stored; the glucose alone under its accession holds no trial result at
    all: refused unknown-analyte as any such message is, the CRP standing."""
    await known_patient(lab)
    assert (await answered(lab, "/fhir/Observation", crp("ACC-5")))[0] == 201
    status, issues = await answered(lab, "/fhir/Observation", other("ACC-5"))
    assert status == 422 and issues[0]["diagnostics"].startswith("unknown-analyte: "), issues
    assert await standing_values(lab) == [20.0, 20.0]
    assert [code for code, _ in await _kept(lab)] == ["unknown-analyte"]


async def test_ordinary_panel_bundles_are_never_planned_again(lab: Lab) -> None:
    """24 Bundles (batch and transaction) of a new CRP and a glucose, each Bundle under an
    accession of its own (the glucose under the CRP's, or under one of its own), sent at once:
    each CRP stored, each glucose ignored, no batch read and planned again."""
    replanned = await known_patient(lab)
    received = await lab.metric("lab_messages_received_total", channel="fhir")
    bodies = [
        bundle(KINDS[i % 2], [crp(f"C-{i}"), other(f"C-{i}" if i % 3 else f"G-{i}")])
        for i in range(24)
    ]
    answers = await asyncio.gather(*(answered(lab, "/fhir", body) for body in bodies))
    assert all(a == (200, [STORED, IGNORED]) for a in answers), answers
    assert await lab.metric("lab_messages_received_total", channel="fhir") - received == 24
    assert await results(lab) == [("crp", "F", 20.0, False)] * 25
    await nothing_else_happened(lab, replanned)
