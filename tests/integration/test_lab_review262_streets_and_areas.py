"""Review 262 through MLLP, POST /v1/lab-results and /fhir/Observation (PostgreSQL, broker):
kept copies after the region rule of review 256.

- D1 (PHI): a street named after a canton (``Rue du Jura 5``, ``Via Ticino 2``, FHIR
  ``Jura-Strasse 5``) was dropped with the region's word: its whole name stayed in notes.
- D2: an everyday word before a compass point that names no region (``Haus SW``) was cut
  from every note (``NO``, ``SO``, ``NE``, ``NW`` stay regions: PHI first).
- D4 (PHI): a JSON key naming a town and an area (``cityState``, ``city_state``) was read as
  an area's, so the city written with its canton was searched for only whole.
- D5: an area key's value one level down (``{"canton": {"value": "Ost/West"}}``) was taken
  apart as a city, its everyday word cut.
- D8 (PHI): a city component's name before several commas (``Thun, BE, CH``) was kept.
The time of a long street line without a blank (D7) is measured by bench/redaction_cost.py.
"""

from __future__ import annotations

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_real_message_shapes import exchange
from tests.integration.test_lab_review224 import _kept, crp
from tests.integration.test_lab_review232 import _json
from tests.integration.test_lab_review242_addresses import _fhir_note

pytestmark = pytest.mark.integration


async def _nte(lab: Lab, cid: str, address: str, note: str) -> str:
    (ack,) = await exchange(lab, crp(cid, address, note))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, cid) if s.startswith("NTE")]
    return nte.removeprefix("NTE|1||")


# D1
@pytest.mark.parametrize(
    ("cid", "address", "note"),
    [
        ("D1-1", "Rue du Jura 5^^Delémont^^2800^CH", "wohnt Rue du Jura"),
        ("D1-2", "Via Ticino 2^^Lugano^^6900^CH", "abita in Via Ticino"),
        ("D1-3", "Rue du Jura 5, 2800 Delémont^^^^^CH", "wohnt Rue du Jura"),
    ],
)
async def test_an_hl7_street_named_after_a_canton_is_scrubbed(
    lab: Lab, cid: str, address: str, note: str
) -> None:
    kept = await _nte(lab, cid, address, note)
    assert "Jura" not in kept and "Ticino" not in kept, kept


async def test_a_json_street_named_after_a_canton_is_scrubbed(lab: Lab) -> None:
    _, _, copy = await _json(lab, {"street": "Rue du Jura 5"}, reference_range="Rue du Jura")
    assert "Jura" not in copy["results"][0]["reference_range"], copy


async def test_a_fhir_line_named_after_a_canton_is_scrubbed(lab: Lab) -> None:
    note = await _fhir_note(lab, {"line": ["Via Ticino 2"], "city": "Lugano"}, "Via Ticino")
    assert "Ticino" not in note, note


# D2
async def test_an_hl7_everyday_word_before_a_compass_point_stays(lab: Lab) -> None:
    note = "Haus informiert"
    assert await _nte(lab, "D2-1", "Gartenweg 3, Haus SW, 3600 Thun^^^^^CH", note) == note


async def test_a_json_everyday_word_before_a_compass_point_stays(lab: Lab) -> None:
    _, _, copy = await _json(lab, {"address": "Gartenweg 3, Haus SW, 3600 Thun"},
                             reference_range="Haus informiert")  # fmt: skip
    assert copy["results"][0]["reference_range"] == "Haus informiert", copy


async def test_a_fhir_everyday_word_before_a_compass_point_stays(lab: Lab) -> None:
    note = await _fhir_note(lab, {"line": ["Gartenweg 3, Haus SW, 3600 Thun"]}, "Haus informiert")
    assert note == "Haus informiert", note


# D4
@pytest.mark.parametrize(
    ("patient", "rr"),
    [({"cityState": "Thun (BE)"}, "aus Thun"), ({"city_state": "Thun/BE"}, "aus Thun"),
     ({"city_state": "Wil, SG"}, "aus Wil")],
)  # fmt: skip
async def test_a_json_key_naming_a_town_and_an_area_is_a_citys(
    lab: Lab, patient: dict[str, object], rr: str
) -> None:
    _, _, copy = await _json(lab, patient, reference_range=rr)
    assert copy["results"][0]["reference_range"] == "aus [redacted]", copy


# D5
async def test_an_area_keys_value_one_level_down_is_searched_whole(lab: Lab) -> None:
    _, _, copy = await _json(lab, {"canton": {"value": "Ost/West"}}, reference_range="Ost 0-5")
    assert copy["results"][0]["reference_range"] == "Ost 0-5", copy


# D8
async def test_a_city_components_name_before_commas_is_scrubbed(lab: Lab) -> None:
    kept = await _nte(lab, "D8-1", "Gartenweg 3^^Thun, BE, CH^^^CH", "aus Thun")
    assert kept == "aus [redacted]", kept
