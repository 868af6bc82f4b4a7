"""Task 211, through the real ``POST /v1/lab-results`` (PostgreSQL and broker).

A JSON final or preliminary result under a valid LOINC code of a test the trial does not
follow (``2345-7`` glucose), whose ``result_id`` holds the patient's stored trial result
(CRP 12 under R1), was left out as another test's and answered 202, the CRP standing: a
mis-coded resend or correction of a trial result lost, nobody told. It is refused
``result-of-another-analyte`` (another patient's: ``result-of-another-patient``), kept and
published, as the corrected/cancelled/entered-in-error case is (review 197, 205). On the
fast path too (the batch planned without a read): its write checks the ``result_id`` holds
nothing, and a batch it refuses is read and planned again. A result under another test's
code whose ``result_id`` holds nothing is still left out.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import crp_observation, obx, oru
from tests.integration.test_lab_correction_resends import _crp, _send
from tests.integration.test_lab_fhir_versions import bundle, post
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_review197 import _body, _enrol, _item, _kept, _standing

pytestmark = pytest.mark.integration

REPLANNED = "lab_batches_replanned_total"


async def _store_crp(lab: Lab) -> None:
    """The patient's CRP 12 mg/L under R1; the service now knows the patient (the next
    message of theirs takes the fast path)."""
    status, answer = await lab.post_lab_results(_body("A-1", _item("R1", "1988-5", "12")))
    assert status == 202 and answer["results_stored"] == 1, answer


@pytest.mark.parametrize("status", ["final", "preliminary"])
@pytest.mark.parametrize("beside", [True, False], ids=["beside-a-trial-result", "alone"])
async def test_a_result_under_another_tests_code_and_a_trial_result_id_is_refused(
    lab: Lab, status: str, beside: bool
) -> None:
    """R1 holds the patient's CRP 12; glucose 5.4 mmol/L under R1 (beside a platelet count,
    or alone) was answered 202 (left out, or no trial result): refused
    result-of-another-analyte naming the code the result under R1 was stored with, kept,
    published; nothing of the message stored. The fast path's write sent it to be read."""
    await _store_crp(lab)
    replanned = await lab.metric(REPLANNED)
    glucose = _item("R1", "2345-7", "5.4", status, unit="mmol/L")
    items = (_item("N1", "777-3", "150"), glucose) if beside else (glucose,)
    answer_status, answer = await lab.post_lab_results(_body("A-2", *items))
    assert answer_status == 422, answer
    at = len(items) - 1
    assert answer["detail"].startswith(f"results[{at}]: result-of-another-analyte: "), answer
    assert "loinc 1988-5" in answer["detail"] and "2345-7" not in answer["detail"], answer
    assert await _standing(lab) == [12.0]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    ((code, reason),) = await _kept(lab)
    assert code == "result-of-another-analyte" and "crp" in reason, reason
    (event,) = await lab.events(LAB_REJECTED, 1)
    assert event.payload["reason_code"] == "result-of-another-analyte"
    assert await lab.metric(REPLANNED) > replanned  # the fast path's write refused it


async def test_another_trial_analytes_code_under_a_trial_result_id_is_refused(lab: Lab) -> None:
    """A neutrophil count (751-8, a trial analyte) final under R1, which holds the CRP:
    refused result-of-another-analyte (the chain's own check), never left out."""
    await _store_crp(lab)
    body = _body("A-2", _item("N1", "777-3", "150"), _item("R1", "751-8", "2.0"))
    answer_status, answer = await lab.post_lab_results(body)
    assert answer_status == 422, answer
    assert answer["detail"].startswith("results[1]: result-of-another-analyte: "), answer
    assert await _standing(lab) == [12.0]


@pytest.mark.parametrize("status", ["final", "preliminary"])
async def test_one_under_another_patients_trial_result_id_is_refused(lab: Lab, status: str) -> None:
    """Patient A's CRP 12 under R1; patient B (MRN999) sends glucose under R1 beside a
    platelet count: refused result-of-another-patient, never naming A; nothing of B's
    stored."""
    await _enrol(lab, "S-102", "MRN999")
    await _store_crp(lab)
    warm = _body("B-0", _item("NB0", "777-3", "140"))
    warm["patient"]["identifier"] = "MRN999"
    assert (await lab.post_lab_results(warm))[0] == 202  # B known: the fast path next
    body = _body("B-1", _item("NB", "777-3", "150"),
                 _item("R1", "2345-7", "5.4", status, unit="mmol/L"))  # fmt: skip
    body["patient"]["identifier"] = "MRN999"
    answer_status, answer = await lab.post_lab_results(body)
    assert answer_status == 422, answer
    assert answer["detail"].startswith("results[1]: result-of-another-patient: "), answer
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 2
    ((code, _),) = await _kept(lab)
    assert code == "result-of-another-patient"


async def test_one_under_a_result_id_holding_nothing_is_still_left_out(lab: Lab) -> None:
    """Glucose under G1 (nothing stored there) beside a platelet count, after the CRP: the
    count stored, the glucose left out as another test's, nothing kept; and one under a
    result_id whose trial result was withdrawn is left out too (nothing stands there)."""
    await _store_crp(lab)
    body = _body("A-2", _item("N1", "777-3", "150"),
                 _item("G1", "2345-7", "5.4", unit="mmol/L"))  # fmt: skip
    answer_status, answer = await lab.post_lab_results(body)
    assert answer_status == 202 and answer["results_stored"] == 1, answer
    withdrawn = _body("A-3", _item("R1", "1988-5", "", "entered-in-error"))
    assert (await lab.post_lab_results(withdrawn))[0] == 202
    body = _body("A-4", _item("N2", "777-3", "160"),
                 _item("R1", "2345-7", "5.4", unit="mmol/L"))  # fmt: skip
    answer_status, answer = await lab.post_lab_results(body)
    assert answer_status == 202 and answer["results_stored"] == 1, answer
    assert await _kept(lab) == []
    assert await _standing(lab) == [150.0, 160.0]


# --- HL7 and FHIR ---------------------------------------------------------------------------


async def test_hl7_keys_another_tests_result_by_its_own_test(lab: Lab) -> None:
    """An HL7 result is keyed by its order and test: a glucose OBX (F or P) under the order
    of a stored CRP names another key, which holds no trial result; left out as another
    test's, the CRP beside it standing (nothing of the JSON rule applies)."""
    acks = await _send(
        lab,
        _crp("H-1", "12", "F", None, "ORDH"),
        oru("H-2", [obx("777-3", "150", "10*9/L"), obx("2345-7", "5.4", "mmol/L")], order="ORDH"),
        oru(
            "H-3",
            [obx("751-8", "2.0", "10*9/L"), obx("2345-7", "5.4", "mmol/L", status="P")],
            order="ORDH",
        ),
    )
    assert [ack[1] for ack in acks] == ["AA"] * 3, acks
    assert await _kept(lab) == []
    assert await _standing(lab) == [2.0, 12.0, 150.0]


def _glucose(identifier: str, status: str) -> dict[str, Any]:
    """A FHIR glucose Observation of the patient under the untyped ``identifier``."""
    observation = crp_observation(identifier)
    observation["code"] = {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}
    observation["valueQuantity"] = {
        "value": 5.4,
        "unit": "mmol/L",
        "system": "http://unitsofmeasure.org",
        "code": "mmol/L",
    }
    observation["status"] = status
    return observation


@pytest.mark.xfail(
    strict=True,
    reason="FHIR keys a result by its first untyped identifier as written, without the test "
    "(result_identifiers): another test's Observation under a stored CRP's untyped identifier "
    "is ignored in a batch Bundle, the CRP standing (not task 211's JSON fix)",
)
@pytest.mark.parametrize("status", ["final", "corrected"])
async def test_fhir_another_tests_observation_under_a_crps_untyped_identifier(
    lab: Lab, status: str
) -> None:
    assert (await lab.post_fhir("/fhir/Observation", crp_observation("OBS-1")))[0] == 201
    entries = [crp_observation("OBS-2"), _glucose("OBS-1", status)]
    answer, statuses = await post(lab, "/fhir", bundle("batch", entries))
    assert answer == 200 and statuses[0] == 201, statuses
    assert statuses[1] == 422, statuses  # ignored (200): the CRP under OBS-1 stands
