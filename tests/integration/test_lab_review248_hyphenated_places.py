"""Review 248 through MLLP, POST /v1/lab-results and /fhir/Observation on PostgreSQL and the
broker: the hyphenated city of an address written on one line (HL7 PID-11.1, a JSON
``address``, a FHIR address ``line``: ``Dorfstrasse 5, 3906 Saas-Fee``, ``1-2-3 Ginza,
Chuo-ku, Tokyo``) was kept in the refused message's copy where a note repeated it (a word
of letters holding a hyphen was no word of letters, so named no place); it is scrubbed as
written and parted by a blank (``Saas Fee``), while a sender, an order number or an id that
only shares a piece of it (``Saas-Lab``, ``SAAS-7``) stays as sent. An address part reading
as a number and a unit (``12 mg/dL``) cuts no range or note."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_phi_review108_fhir_json import post
from tests.integration.test_lab_real_message_shapes import exchange
from tests.integration.test_lab_review224 import _kept, crp
from tests.integration.test_lab_review232 import _json
from tests.integration.test_lab_review242_addresses import _fhir_note, _observation

pytestmark = pytest.mark.integration

# (the one-line address, its hyphenated place, the place parted by a blank)
HYPHENATED = [
    ("Dorfstrasse 5, 3906 Saas-Fee", "Saas-Fee", "Saas Fee"),
    ("Dorfstrasse 5, Saas-Fee", "Saas-Fee", "Saas Fee"),
    ("1-2-3 Ginza, Chuo-ku, Tokyo", "Chuo-ku", "Chuo ku"),
]
# scrubbed before too: a city of letters alone, a hyphenated one of words of five letters
CONTROLS = [
    ("Dorfstrasse 5, 3906 Bern", "Bern", "Bern"),
    ("Rue du Midi 5, 2610 Saint-Imier", "Saint-Imier", "Saint Imier"),
]
CASES = HYPHENATED + CONTROLS


@pytest.mark.parametrize(("line", "city", "parted"), CASES)
async def test_hl7_one_line_address_city_is_scrubbed_from_a_note(
    lab: Lab, line: str, city: str, parted: str
) -> None:
    note = f"wohnt in {city} seit 2020, vorher {parted}"
    (ack,) = await exchange(lab, crp("R248-1", f"{line}^^^^^CH", note))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, "R248-1") if s.startswith("NTE")]
    assert city not in nte and parted not in nte, nte
    assert "wohnt in" in nte and "seit 2020" in nte, nte


@pytest.mark.parametrize(("line", "city", "parted"), CASES)
async def test_json_address_city_is_scrubbed_from_a_range(
    lab: Lab, line: str, city: str, parted: str
) -> None:
    _, _, kept = await _json(lab, {"address": line}, reference_range=f"aus {city} / {parted}")
    kept_range = kept["results"][0]["reference_range"]
    assert city not in kept_range and parted not in kept_range, kept
    assert kept_range.startswith("aus "), kept


@pytest.mark.parametrize(("line", "city", "parted"), CASES)
async def test_fhir_address_line_city_is_scrubbed_from_a_note(
    lab: Lab, line: str, city: str, parted: str
) -> None:
    note = await _fhir_note(lab, {"line": [line]}, f"wohnt in {city}, vorher {parted}")
    assert city not in note and parted not in note, note
    assert note.startswith("wohnt in "), note


async def test_hl7_sender_and_order_sharing_a_piece_of_the_city_stay_as_sent(lab: Lab) -> None:
    """Only the place's whole phrase is searched for: a sender ``Saas-Lab`` and an order
    ``SAAS-7`` (never the place) stay as sent, the note's city is scrubbed."""
    message = crp(
        "R248-2", "Dorfstrasse 5, 3906 Saas-Fee^^^^^CH", "wohnt in Saas-Fee",
        sender="LIS|Saas-Lab", order="SAAS-7",
    )  # fmt: skip
    (ack,) = await exchange(lab, message)
    assert ack[1] in ("AE", "AR"), ack
    kept = await _kept(lab, "R248-2")
    msh, nte = kept[0], next(s for s in kept if s.startswith("NTE"))
    assert msh.split("|")[2:4] == ["LIS", "Saas-Lab"], msh
    assert any(s.startswith("OBR|1|SAAS-7|") for s in kept), kept
    assert "Saas-Fee" not in nte, nte


async def test_json_source_and_result_id_sharing_a_piece_of_the_city_stay_as_sent(
    lab: Lab,
) -> None:
    _, _, kept = await _json(
        lab, {"address": "Dorfstrasse 5, 3906 Saas-Fee"}, facility="Saas-Lab",
        result_id="SAAS-7", reference_range="aus Saas-Fee",
    )  # fmt: skip
    assert kept["source"] == {"application": "LIS", "facility": "Saas-Lab"}, kept
    assert kept["results"][0]["result_id"] == "SAAS-7", kept
    assert "Saas-Fee" not in kept["results"][0]["reference_range"], kept


async def test_fhir_identifier_sharing_a_piece_of_the_city_stays_as_sent(lab: Lab) -> None:
    observation: dict[str, Any] = _observation(
        {"line": ["Dorfstrasse 5, 3906 Saas-Fee"]}, "wohnt in Saas-Fee"
    )
    observation["identifier"] = [{"system": "urn:lab", "value": "SAAS-7"}]
    status, answer = await post(lab, "/fhir/Observation", observation)
    assert status == 422, answer
    kept = json.loads(await lab.pool.fetchval("SELECT payload FROM rejections"))
    assert kept["identifier"] == [{"system": "urn:lab", "value": "SAAS-7"}], kept
    assert "Saas-Fee" not in kept["component"][0]["valueString"], kept


# --- D2: an address part that is a number and a unit with a slash (``12 mg/dL``) ---------


async def test_hl7_address_part_of_a_number_and_unit_leaves_range_and_note(lab: Lab) -> None:
    message = crp("R248-3", "12 mg/dL^^Bern^^3000^CH", "limit 12 mg/dL", range_="12 mg/dL")
    (ack,) = await exchange(lab, message)
    assert ack[1] in ("AE", "AR"), ack
    kept = await _kept(lab, "R248-3")
    obx = next(s for s in kept if s.startswith("OBX"))
    nte = next(s for s in kept if s.startswith("NTE"))
    assert obx.split("|")[7] == "12 mg/dL", obx
    assert nte.endswith("limit 12 mg/dL"), nte


async def test_json_address_part_of_a_number_and_unit_leaves_the_range(lab: Lab) -> None:
    _, _, kept = await _json(lab, {"address": "12 mg/dL, Bern"}, reference_range="< 12 mg/dL")
    assert kept["results"][0]["reference_range"] == "< 12 mg/dL", kept
