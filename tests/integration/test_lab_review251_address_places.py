"""Review 251 through MLLP, POST /v1/lab-results and /fhir/Observation on PostgreSQL and the
broker: what of a patient's address a refused message's kept copy still held.

- D1 (a regression of review 248's fix): a house number with its letter after a slash
  (``Via Roma 123/G``) whose letter spells a unit (``G``, ``L``, ``M``, ``u``) was read as a
  number with a unit and never searched for, so a note ``Wohnung 123/G`` kept it;
- D2: a city with an apostrophe (``Cap-d'Ail``, ``Pont-l'Abbé``, ``L'Aquila``) named no place;
- D3: a city written with a dash other than ASCII's (``Saas`` and ``Fee`` joined by an
  en dash) named no place;
- D4: a city followed by its canton in parentheses or after a slash (``Thun (BE)``,
  ``Saas-Fee/VS``) was searched for only with it, so a note naming the city alone kept it.

Ordinary values (order numbers, senders, units and ranges, result ids, FHIR identifiers)
stay as sent."""

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

# (the one-line address, the city a note repeats)
CITIES = [
    ("Rue du Port 5, Cap-d'Ail", "Cap-d'Ail"),  # D2
    ("Rue du Port 5, 06320 Cap-d'Ail", "Cap-d'Ail"),  # D2
    ("Rue Max Jacob 5, 29120 Pont-l'Abbé", "Pont-l'Abbé"),  # D2
    ("Via Roma 5, 67100 L'Aquila", "L'Aquila"),  # D2
    ("Rue du Port 5, 84800 L\u2019Isle-sur-la-Sorgue", "L\u2019Isle-sur-la-Sorgue"),  # D2
    ("Dorfstrasse 5, 3906 Saas\u2013Fee", "Saas\u2013Fee"),  # D3: en dash
    ("Dorfstrasse 5, Saas\u2011Fee", "Saas\u2011Fee"),  # D3: non-breaking hyphen
    ("Gartenweg 3, 3600 Thun (BE)", "Thun"),  # D4
    ("Dorfstrasse 5, Saas-Fee/VS", "Saas-Fee"),  # D4
    ("Gartenweg 3, St.-Gallen", "St.-Gallen"),  # an abbreviation's dot before the hyphen
]


@pytest.mark.parametrize(("line", "city"), CITIES)
async def test_hl7_one_line_address_city_is_scrubbed_from_a_note(
    lab: Lab, line: str, city: str
) -> None:
    (ack,) = await exchange(lab, crp("R251-1", f"{line}^^^^^FR", f"wohnt in {city} seit 2020"))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, "R251-1") if s.startswith("NTE")]
    assert nte == "NTE|1||wohnt in [redacted] seit 2020", (city, nte)


@pytest.mark.parametrize(("line", "city"), CITIES)
async def test_json_address_city_is_scrubbed_from_a_range(lab: Lab, line: str, city: str) -> None:
    _, _, kept = await _json(lab, {"address": line}, reference_range=f"aus {city}")
    assert kept["results"][0]["reference_range"] == "aus [redacted]", (city, kept)


@pytest.mark.parametrize(("line", "city"), CITIES)
async def test_fhir_address_line_city_is_scrubbed_from_a_note(
    lab: Lab, line: str, city: str
) -> None:
    note = await _fhir_note(lab, {"line": [line]}, f"wohnt in {city}")
    assert note == "wohnt in [redacted]", (city, note)


async def test_hl7_dashed_city_is_scrubbed_as_written_with_a_hyphen_and_with_a_blank(
    lab: Lab,
) -> None:
    note = "wohnt in Saas\u2013Fee, vorher Saas-Fee und Saas Fee"
    (ack,) = await exchange(lab, crp("R251-2", "Dorfstrasse 5, 3906 Saas\u2013Fee^^^^^CH", note))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, "R251-2") if s.startswith("NTE")]
    assert "Saas" not in nte and "wohnt in" in nte, nte


# --- D1: a house number with its letter after a slash --------------------------------------


@pytest.mark.parametrize("flat", ["123/B", "123/G", "123/L", "123/M", "123/u"])
async def test_hl7_house_number_with_a_letter_after_a_slash_is_scrubbed(
    lab: Lab, flat: str
) -> None:
    message = crp("R251-3", f"Via Roma {flat}^^Roma^^00100^IT", f"Wohnung {flat}")
    (ack,) = await exchange(lab, message)
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, "R251-3") if s.startswith("NTE")]
    assert flat not in nte and "Wohnung" in nte, nte


@pytest.mark.parametrize("flat", ["123/B", "123/G", "123/u"])
async def test_json_house_number_with_a_letter_after_a_slash_is_scrubbed(
    lab: Lab, flat: str
) -> None:
    line = f"Via Roma {flat}, 00100 Roma"
    _, _, kept = await _json(lab, {"address": line}, reference_range=f"Whg {flat}")
    assert kept["results"][0]["reference_range"] == "Whg [redacted]", kept


async def test_fhir_house_number_with_a_letter_after_a_slash_is_scrubbed(lab: Lab) -> None:
    note = await _fhir_note(lab, {"line": ["Via Roma 123/G"], "city": "Roma"}, "Wohnung 123/G")
    assert "123/G" not in note and note.startswith("Wohnung "), note


# --- ordinary values stay as sent -----------------------------------------------------------


async def test_hl7_units_ranges_orders_and_sender_stay_as_sent(lab: Lab) -> None:
    """Units and ranges (``10*9/L``, ``5 U/L``), an order number and a sender sharing a piece
    of the address stay as sent, while the address's city and house number are scrubbed."""
    message = crp(
        "R251-4", "Via Roma 123/G, 3600 Thun (BE)^^^^^CH",
        "Wohnung 123/G in Thun; 5 10*9/L, 5 U/L, 40 %, 12 mg/dL",
        sender="LIS|Thun-Lab", order="THUN-123", unit="10*9/L", range_="5 U/L",
    )  # fmt: skip
    (ack,) = await exchange(lab, message)
    assert ack[1] in ("AE", "AR"), ack
    kept = await _kept(lab, "R251-4")
    msh, nte = kept[0], next(s for s in kept if s.startswith("NTE"))
    obx = next(s for s in kept if s.startswith("OBX"))
    assert msh.split("|")[2:4] == ["LIS", "Thun-Lab"], msh
    assert any(s.startswith("OBR|1|THUN-123|") for s in kept), kept
    assert obx.split("|")[6:8] == ["10*9/L", "5 U/L"], obx
    assert "123/G" not in nte and "Thun" not in nte, nte
    assert nte.endswith("; 5 10*9/L, 5 U/L, 40 %, 12 mg/dL"), nte


async def test_json_source_and_result_id_stay_as_sent(lab: Lab) -> None:
    _, _, kept = await _json(
        lab, {"address": "Rue du Port 5, 06320 Cap-d'Ail"}, facility="Cap-Lab",
        result_id="CAP-5", reference_range="aus Cap-d'Ail, 5 U/L",
    )  # fmt: skip
    assert kept["source"] == {"application": "LIS", "facility": "Cap-Lab"}, kept
    assert kept["results"][0]["result_id"] == "CAP-5", kept
    assert kept["results"][0]["reference_range"] == "aus [redacted], 5 U/L", kept


async def test_fhir_identifier_stays_as_sent(lab: Lab) -> None:
    observation: dict[str, Any] = _observation(
        {"line": ["Dorfstrasse 5, 3906 Saas\u2013Fee"]}, "wohnt in Saas\u2013Fee"
    )
    observation["identifier"] = [{"system": "urn:lab", "value": "SAAS-5"}]
    status, answer = await post(lab, "/fhir/Observation", observation)
    assert status == 422, answer
    kept = json.loads(await lab.pool.fetchval("SELECT payload FROM rejections"))
    assert kept["identifier"] == [{"system": "urn:lab", "value": "SAAS-5"}], kept
    assert "Saas" not in kept["component"][0]["valueString"], kept
