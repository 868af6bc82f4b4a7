"""Review 254 (D3) through MLLP, POST /v1/lab-results and /fhir/Observation on PostgreSQL and
the broker: a city component written with its canton or region (PID-11.3 ``Thun (BE)``,
``Thun/BE``, ``Saas-Fee/VS``, ``Zug (ZG)``; a JSON ``city``, a FHIR address ``city``) was
searched for only as its whole phrase, so a note or range repeating the city alone kept it in
the refused message's copy; the city's own name is searched for too, however short, never
the canton code alone; a street component (``Lab (Bern)``) is never parted as a city is, and
the sender, order number or unit stay as sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_phi_review108_fhir_json import post
from tests.integration.test_lab_real_message_shapes import exchange
from tests.integration.test_lab_review224 import _kept, crp
from tests.integration.test_lab_review232 import _json
from tests.integration.test_lab_review242_addresses import _observation

pytestmark = pytest.mark.integration

# (control id, PID-11, the city a note repeats): one city component per shape
COMPONENTS = [
    ("R254-7", "Gartenweg 3^^Thun (BE)^^3600^CH", "Thun"),
    ("R254-8", "Gartenweg 3^^Thun/BE^^3600^CH", "Thun"),
    ("R254-9", "Gartenweg 3^^Saas-Fee/VS^^3906^CH", "Saas-Fee"),
    ("R254-10", "Gartenweg 3^^Zug (ZG)^^^CH", "Zug"),
    # review 258: the canton after a blank (Swiss Post's own form) or a comma
    ("R258-1", "Gartenweg 3^^Wil SG^^9500^CH", "Wil"),
    ("R258-2", "Gartenweg 3^^Wil, SG^^9500^CH", "Wil"),
]


@pytest.mark.parametrize(("cid", "address", "city"), COMPONENTS)
async def test_hl7_city_component_with_its_canton_is_scrubbed_by_its_name(
    lab: Lab, cid: str, address: str, city: str
) -> None:
    (ack,) = await exchange(lab, crp(cid, address, f"wohnt in {city} seit 2020"))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, cid) if s.startswith("NTE")]
    assert city not in nte and "[redacted]" in nte, (address, nte)
    assert "wohnt in" in nte and "seit 2020" in nte, nte


async def test_hl7_city_component_scrubbed_from_a_range_ordinary_values_stay(lab: Lab) -> None:
    """The city alone leaves OBX-7's range; the other designation's ``Lab (Bern)`` is a
    street's, never parted as a city is (``Lab`` of a note stays), and the sender, order
    number, unit and the canton code in a note stay as sent."""
    message = crp(
        "R254-11", "Gartenweg 3^Lab (Bern)^Thun (BE)^^3600^CH", "Lab informiert, Kanton BE",
        sender="LIS|LABOR THUN", order="THUN-7", unit="mg/L", range_="aus Thun",
    )  # fmt: skip
    (ack,) = await exchange(lab, message)
    assert ack[1] in ("AE", "AR"), ack
    kept = await _kept(lab, "R254-11")
    msh, obx, nte = (next(s for s in kept if s.startswith(n)) for n in ("MSH", "OBX", "NTE"))
    assert msh.split("|")[2:4] == ["LIS", "LABOR THUN"], msh
    assert any(s.startswith("OBR|1|THUN-7|") for s in kept), kept
    assert obx.split("|")[6:8] == ["mg/L", "aus [redacted]"], obx
    assert nte.endswith("|Lab informiert, Kanton BE"), nte


async def test_json_city_with_its_canton_is_scrubbed_by_its_name(lab: Lab) -> None:
    _, _, kept = await _json(
        lab, {"address": "Gartenweg 3", "city": "Zug (ZG)", "zip": "6300"}, facility="ZUG",
        result_id="ZUG-7", reference_range="Zug 0-5",
    )  # fmt: skip
    assert kept["results"][0]["reference_range"] == "[redacted] 0-5", kept
    assert kept["source"] == {"application": "LIS", "facility": "ZUG"}, kept
    assert kept["results"][0]["result_id"] == "ZUG-7", kept


@pytest.mark.parametrize(
    ("key", "value", "word"),
    [("district", "Ost/West", "Ost"), ("district", "Whg (Ost)", "Whg"),
     ("region", "Nord (Bern)", "Nord"), ("canton", "Basel (Stadt)", "Stadt"),
     ("county", "Lab (Bern)", "Lab")],
)  # fmt: skip
async def test_a_json_area_key_is_not_taken_apart_as_a_city(
    lab: Lab, key: str, value: str, word: str
) -> None:
    """Review 258: a district, region, canton or county is searched for whole, as before
    review 254's fix took it apart as a city (its short word cut from kept ranges)."""
    _, _, kept = await _json(lab, {key: value}, reference_range=f"{word} 0-5")
    assert kept["results"][0]["reference_range"] == f"{word} 0-5", kept


async def test_fhir_city_with_its_canton_is_scrubbed_by_its_name(lab: Lab) -> None:
    address = {"line": ["Gartenweg 3"], "city": "Thun (BE)", "postalCode": "3600"}
    observation: dict[str, Any] = _observation(address, "wohnt in Thun, Kanton BE")
    observation["identifier"] = [{"system": "urn:lab", "value": "THUN-7"}]
    status, answer = await post(lab, "/fhir/Observation", observation)
    assert status == 422, answer
    kept = json.loads(await lab.pool.fetchval("SELECT payload FROM rejections"))
    assert kept["component"][0]["valueString"] == "wohnt in [redacted], Kanton BE", kept
    assert kept["identifier"] == [{"system": "urn:lab", "value": "THUN-7"}], kept
