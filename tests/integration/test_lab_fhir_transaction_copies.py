"""A rejected FHIR transaction keeps nothing of the patients in it who are not enrolled
(review 109): stored, it would have discarded their entries with nothing kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.contracts.identity import hospital_id_hmac
from shared.secrets import subject_hmac_key
from tests.integration.lab_fixtures import MRN
from tests.integration.test_lab_fhir_bundle_resends import NOT_ENROLLED, furlongs, obs
from tests.integration.test_lab_fhir_versions import GLUCOSE, bundle, post
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

PATIENT_URL = "urn:uuid:11111111-0000-0000-0000-000000000001"


async def kept_copy(lab: Lab) -> tuple[str, list[Any]]:
    """The one rejection's copy, and its entries."""
    payload = await lab.pool.fetchval("SELECT payload FROM rejections")
    return payload, json.loads(payload)["entry"]


async def test_a_rejected_transaction_keeps_no_entry_of_a_patient_not_enrolled(lab: Lab) -> None:
    body = bundle("transaction", [furlongs("K-1"), obs("K-2", 55, mrn=NOT_ENROLLED)])
    assert (await post(lab, "/fhir", body))[0] == 422
    payload, entries = await kept_copy(lab)
    key = subject_hmac_key(lab.settings)
    assert hospital_id_hmac(key, NOT_ENROLLED) not in payload
    assert "K-2" not in payload
    assert [e["resource"]["valueQuantity"]["value"] for e in entries if e] == [9]  # not 55
    assert entries[1] == {}  # each entry in its place
    assert entries[0]["resource"]["identifier"][0]["value"] == "K-1"
    assert hospital_id_hmac(key, MRN) in payload  # the enrolled patient's, at fault


async def test_their_patient_entry_and_other_analytes_are_left_out_too(lab: Lab) -> None:
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:hosp", "value": NOT_ENROLLED}],
    }
    theirs = obs("K-3", 55)
    theirs["subject"] = {"reference": PATIENT_URL}
    their_glucose = {**obs("GLU-9", 5.4, mrn=NOT_ENROLLED), "code": GLUCOSE}
    our_glucose = {**obs("GLU-8", 6.1), "code": GLUCOSE}
    body = bundle("transaction", [patient, theirs, their_glucose, our_glucose, furlongs("K-1")])
    body["entry"][0]["fullUrl"] = PATIENT_URL
    body["entry"][0]["request"]["url"] = "Patient"
    assert (await post(lab, "/fhir", body))[0] == 422
    payload, entries = await kept_copy(lab)
    assert hospital_id_hmac(subject_hmac_key(lab.settings), NOT_ENROLLED) not in payload
    assert "K-3" not in payload and "GLU-9" not in payload
    assert entries[:3] == [{}, {}, {}]
    assert [e["resource"]["identifier"][0]["value"] for e in entries[3:]] == ["GLU-8", "K-1"]
