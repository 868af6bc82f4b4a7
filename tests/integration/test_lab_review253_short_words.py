"""Review 253: after fixer 252 a short everyday word before `(` or `/` of an address part
(`App. (links)`, `Ost/West`, `Lab (Bern)`) was searched for alone as a place, and cut from
every kept note and range (`[redacted] meldet CRP`); a city after its postal code is still
searched for by its name alone however short (`3600 Thun (BE)`: `Thun`)."""

from __future__ import annotations

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_real_message_shapes import exchange
from tests.integration.test_lab_review224 import _kept, crp
from tests.integration.test_lab_review232 import _json

pytestmark = pytest.mark.integration

CASES = [
    ("R253-7", "Gartenweg 3, App. (links), 3600 Thun^^^^^CH", "App meldet CRP", "App meldet"),
    ("R253-8", "Gartenweg 3, Ost/West, 3600 Thun^^^^^CH", "Station Ost", "Station Ost"),
    ("R253-9", "Gartenweg 3, Lab (Bern)^^^^^CH", "Lab informiert", "Lab informiert"),
]


@pytest.mark.parametrize(("cid", "address", "note", "kept"), CASES)
async def test_a_short_word_before_a_bracket_or_slash_stays_in_a_kept_note(
    lab: Lab, cid: str, address: str, note: str, kept: str
) -> None:
    (ack,) = await exchange(lab, crp(cid, address, note))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, cid) if s.startswith("NTE")]
    assert kept in nte, (address, nte)


async def test_a_city_after_its_postal_code_is_still_scrubbed_by_its_name(lab: Lab) -> None:
    (ack,) = await exchange(lab, crp("R253-1", "Gartenweg 3, 3600 Thun (BE)^^^^^CH", "aus Thun"))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, "R253-1") if s.startswith("NTE")]
    assert "Thun" not in nte and "[redacted]" in nte, nte


async def test_a_json_range_keeps_a_short_word_of_the_address(lab: Lab) -> None:
    _, _, kept = await _json(lab, {"address": "Gartenweg 3, Ost/West"}, reference_range="Ost 0-5")
    assert kept["results"][0]["reference_range"] == "Ost 0-5", kept


# review 254: a short city followed by its canton, its postal code in a part of its own (or
# after it), was no longer searched for alone after review 253's fix
SHORT_CITIES = [
    ("R254-1", "Gartenweg 3, 6300, Zug (ZG)^^^^^CH", "wohnt in Zug", "Zug"),
    ("R254-2", "Gartenweg 3, Thun/BE, 3600^^^^^CH", "aus Thun", "Thun"),
    ("R254-3", "Gartenweg 3, CH-6300, Zug/ZG^^^^^CH", "wohnt in Zug", "Zug"),
]


@pytest.mark.parametrize(("cid", "address", "note", "city"), SHORT_CITIES)
async def test_a_short_city_before_its_canton_is_scrubbed_by_its_name(
    lab: Lab, cid: str, address: str, note: str, city: str
) -> None:
    (ack,) = await exchange(lab, crp(cid, address, note))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, cid) if s.startswith("NTE")]
    assert city not in nte and "[redacted]" in nte, (address, nte)
