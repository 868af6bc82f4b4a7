"""Fix111: a birth date with its month in words or written ``D.M.YY``, and a phone run into
letters, in a kept copy's free text, through the running service (MLLP, ``/fhir``,
``/v1/lab-results``). They were kept as the lab sent them; the collection date and the
values beside them are kept still.

Each input names the enrolled patient (``MRN``) with a CRP in a unit the trial cannot
convert (``furlongs``: AE or 422, kept), so what is checked is what the kept copy holds.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.lab_fixtures import MRN, TS, msa
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_phi_review108_fhir_json import COLLECTED, post

pytestmark = pytest.mark.integration

NOTE = (
    "geb. 17. März 1951 (March 17, 1951; 17 mars 1951; 17 marzo 1951; 17.3.51), "
    "Rueckruf Tel0419998877 / tel:041 999 88 77, entnommen 20 Nov 2026, CRP 12 mg/L"
)
KEPT_NOTE = (
    "geb. [redacted] ([redacted]; [redacted]; [redacted]; [redacted]), "
    "Rueckruf Tel[redacted] / tel:[redacted], entnommen 20 Nov 2026, CRP 12 mg/L"
)
SHORT_NOTE = "17 Mar 1951, Tel0419998877, entnommen 20 Nov 2026"
SHORT_KEPT = "[redacted], Tel[redacted], entnommen 20 Nov 2026"


async def test_an_hl7_note_keeps_no_birth_date_in_words_nor_phone_run_in(lab: Lab) -> None:
    message = "\r".join([
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|F111-H|P|2.5.1",
        f"PID|1||{MRN}^^^HOSP^MR||HUBERMANN^ROSWITHA||19510317|F|||||0419998877",
        f"OBR|1|PLC1|ORD1|LAB^Lab panel|||{TS}",
        f"OBX|1|NM|1988-5^CRP^LN||12|furlongs|||||F|||{TS}",
        f"NTE|1||{NOTE}",
    ]) + "\r"  # fmt: skip
    client = await lab.mllp()
    ack = await client.exchange(message)
    await client.close()
    assert msa(ack)[1:3] == ["AE", "F111-H"], ack
    payload: str = await lab.pool.fetchval("SELECT payload FROM rejections")
    assert payload.rsplit("\r", maxsplit=1)[-1] == f"NTE|1||{KEPT_NOTE}", payload


async def test_a_fhir_copy_keeps_no_birth_date_in_words_nor_phone_run_in(lab: Lab) -> None:
    subject = {"identifier": {"system": "urn:hosp", "value": MRN}}
    patient = {"resourceType": "Patient", "birthDate": "1951-03-17",
               "identifier": [{"system": "urn:hosp", "value": MRN}],
               "telecom": [{"system": "phone", "value": "041 999 88 77"}]}  # fmt: skip
    crp = {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab", "value": "F111-F1"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}],
                 "text": f"CRP {SHORT_NOTE}"},
        "subject": subject, "effectiveDateTime": COLLECTED,
        "valueQuantity": {"value": 12, "unit": "furlongs"},
    }  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:patient", "resource": patient,
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:crp", "resource": crp,
         "request": {"method": "POST", "url": "Observation"}},
    ]}  # fmt: skip
    status, answer = await post(lab, "/fhir", bundle)
    assert 400 <= status < 500, answer
    payload: str = await lab.pool.fetchval("SELECT payload FROM rejections")
    kept = json.loads(payload)
    resources = [entry.get("resource", {}) for entry in kept["entry"]]
    texts = [resource["code"]["text"] for resource in resources if "code" in resource]
    assert texts == [f"CRP {SHORT_KEPT}"], payload
    assert "1951" not in payload and "9998877" not in payload.replace(" ", ""), payload


async def test_a_json_copy_keeps_no_birth_date_in_words_nor_phone_run_in(lab: Lab) -> None:
    body = {
        "message_id": "F111-J1",
        "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN, "birth_date": "1951-03-17", "phone": "041 999 88 77"},
        "results": [{"result_id": "R1", "loinc": "1988-5", "value": "12", "unit": "furlongs",
                     "reference_range": SHORT_NOTE, "status": "final",
                     "collected_at": COLLECTED}],
    }  # fmt: skip
    status, answer = await post(lab, "/v1/lab-results", body)
    assert 400 <= status < 500, answer
    payload: str = await lab.pool.fetchval("SELECT payload FROM rejections")
    kept = json.loads(payload)
    assert kept["results"][0]["reference_range"] == SHORT_KEPT, payload
    assert kept["results"][0]["value"] == "12" and kept["results"][0]["unit"] == "furlongs"
