"""Review 242 through MLLP, POST /v1/lab-results and /fhir/Observation on PostgreSQL and the
broker: a Dutch postcode whose letters spell a unit, a postcode written with its city, a
long one-line address on a refused message (answered as refused and kept, not 'resend'),
a residence extension under a publisher's path naming a thing."""

from __future__ import annotations

import asyncio
import json
import string
import time
from typing import Any

import pytest

from tests.integration.lab_fixtures import MRN, frame
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_phi_review108_fhir_json import post
from tests.integration.test_lab_real_message_shapes import exchange
from tests.integration.test_lab_review224 import _kept, crp
from tests.integration.test_lab_review232 import COLLECTED, _json
from tests.unit.lab_ingestion.test_address_copies_review240 import PUBLISHERS_RESIDENCE_URLS

pytestmark = pytest.mark.integration


def _observation(address: dict[str, Any], note: str) -> dict[str, Any]:
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": "urn:hosp", "value": MRN}],
        "address": [address],
    }
    return {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab", "value": "R242-1"}],
        "contained": [patient], "subject": {"reference": "#p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}], "text": "CRP"},
        "effectiveDateTime": COLLECTED, "valueQuantity": {"value": 20, "unit": "furlongs"},
        "component": [{"code": {"text": "note"}, "valueString": note}],
    }  # fmt: skip


async def _fhir_note(lab: Lab, address: dict[str, Any], note: str) -> str:
    status, answer = await post(lab, "/fhir/Observation", _observation(address, note))
    assert status == 422, answer
    kept = json.loads(await lab.pool.fetchval("SELECT payload FROM rejections"))
    return str(kept["component"][0]["valueString"])


# --- D1: a Dutch postcode whose letters spell a unit (5611MM, 1012ML, 2511 cm) ---------


@pytest.mark.parametrize("postcode", ["5611MM", "1012ML", "2511 cm"])
async def test_d1_json_zip_dutch_unit_letters_left_in_range(lab: Lab, postcode: str) -> None:
    _, _, kept = await _json(lab, {"zip": postcode, "city": "Eindhoven"},
                             reference_range=f"pc {postcode}")  # fmt: skip
    assert kept["results"][0]["reference_range"] == "pc [redacted]", kept


@pytest.mark.parametrize("postcode", ["5611MM", "2511 cm"])
async def test_d1_fhir_postalcode_dutch_unit_letters_left_in_note(lab: Lab, postcode: str) -> None:
    address = {"line": ["Keizersgracht 1"], "city": "Eindhoven", "postalCode": postcode}
    note = await _fhir_note(lab, address, f"pc {postcode}")
    assert postcode not in note, note


async def test_d1_hl7_pid11_5_dutch_unit_letters_left_in_nte(lab: Lab) -> None:
    (ack,) = await exchange(
        lab, crp("R242-A", "Keizersgracht 1^^Eindhoven^^5611MM^NL", "pc 5611MM")
    )
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [line for line in await _kept(lab, "R242-A") if line.startswith("NTE")]
    assert "5611MM" not in nte, nte


# --- D2: a letters-and-digits postcode written with its city in one value ----------------


@pytest.mark.parametrize(
    ("cid", "address", "postcode"),
    [("R242-B", "Keizersgracht 1, 1012AB Amsterdam^^^^^NL", "1012AB"),
     ("R242-C", "Keizersgracht 1^^1012 ab Amsterdam^^^NL", "1012 ab"),
     ("R242-E", "Gartenweg 3, CH-3600 Thun^^^^^CH", "CH-3600")],
)  # fmt: skip
async def test_d2_hl7_postcode_with_city_left_in_nte(
    lab: Lab, cid: str, address: str, postcode: str
) -> None:
    (ack,) = await exchange(lab, crp(cid, address, f"pc {postcode} ok"))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [line for line in await _kept(lab, cid) if line.startswith("NTE")]
    assert postcode not in nte, nte


@pytest.mark.parametrize(
    ("patient", "postcode"),
    [({"address": "Keizersgracht 1, 1012AB Amsterdam"}, "1012AB"),
     ({"address": "Stationsplein 1, 5611MM Eindhoven"}, "5611MM")],
)  # fmt: skip
async def test_d2_json_postcode_with_city_left_in_range(
    lab: Lab, patient: dict[str, object], postcode: str
) -> None:
    _, _, kept = await _json(lab, patient, reference_range=f"pc {postcode}")
    assert postcode not in kept["results"][0]["reference_range"], kept


@pytest.mark.parametrize(
    ("address", "postcode"),
    [({"line": ["Keizersgracht 1"], "city": "1012ab Amsterdam"}, "1012ab"),
     ({"text": "1 Grafton St, D02 X285"}, "D02 X285")],
)  # fmt: skip
async def test_d2_fhir_postcode_with_city_left_in_note(
    lab: Lab, address: dict[str, Any], postcode: str
) -> None:
    note = await _fhir_note(lab, address, f"pc {postcode}")
    assert postcode not in note, note


# --- D3: quadratic address taking-apart (_parts_left_out) ---------------------------------


def _word(i: int) -> str:
    s = ""
    while True:
        s += string.ascii_lowercase[i % 26]
        i //= 26
        if not i:
            return "Weg" + s


async def test_a_refused_message_with_a_long_one_line_address_is_kept(lab: Lab) -> None:
    """A refused 56 KB message (PID-11.1 a one-line address of 6,000 parts): its copy's
    redaction compared every part with every piece and outlasted the group commit's window,
    so it was answered AR 'resend' after about 24 s and nothing was kept; now it is refused
    for its unit and kept, and another sender's message meanwhile is stored."""
    n = 3000
    line = ", ".join([f"{_word(i)} 3" for i in range(n)] + [f"X-{10000 + i}" for i in range(n)])
    slow = crp("R242-H", f"{line}^^Thun^^3600^CH", "ok")  # unit furlongs: refused, kept

    async def send(message: str) -> tuple[str, float]:
        client = await lab.mllp()
        try:
            started = time.monotonic()
            await client.send(frame(message))
            ack = await client.ack(timeout=280)
            return ack, time.monotonic() - started
        finally:
            await client.close()

    first = asyncio.create_task(send(slow))
    await asyncio.sleep(1.0)
    other_ack, other_elapsed = await send(
        crp("R242-I", "Gartenweg 3^^Thun^^3600^CH", "ok", unit="mg/L")
    )
    slow_ack, slow_elapsed = await first
    kept = await lab.pool.fetchval("SELECT count(*) FROM rejections")
    stored = await lab.pool.fetchval("SELECT count(*) FROM results")
    summary = (slow_ack.split("\r")[1], f"{slow_elapsed:.1f}s", other_ack.split("\r")[1],
               f"{other_elapsed:.1f}s", f"kept={kept}", f"stored={stored}")  # fmt: skip
    assert "|AE|R242-H|unit" in slow_ack and "temporary internal error" not in slow_ack, summary
    assert kept == 1 and stored == 1, summary


# --- D4: a residence extension whose URL holds a "thing" word anywhere (lab, site, location)


@pytest.mark.parametrize("url", PUBLISHERS_RESIDENCE_URLS)
async def test_d4_residence_extension_left_in_note(lab: Lab, url: str) -> None:
    body = _observation({"city": "Bern"}, "wohnt Gartenweg 3, 3600 Thun")
    body["extension"] = [{"url": url, "valueString": "Gartenweg 3, 3600 Thun"}]
    status, answer = await post(lab, "/fhir/Observation", body)
    assert status == 422, answer
    kept = json.loads(await lab.pool.fetchval("SELECT payload FROM rejections"))
    note = kept["component"][0]["valueString"]
    assert "Gartenweg 3" not in note and "Thun" not in note, (note, kept.get("extension"))
