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

# (control id, address, note, the note's word, whether it stays): review 253, a short
# everyday word before a bracket or slash stays; review 254, a short city before its canton,
# its postal code in a part of its own, after it or before it, is scrubbed by its name
CASES = [
    ("R253-7", "Gartenweg 3, App. (links), 3600 Thun^^^^^CH", "App meldet CRP", "App", True),
    ("R253-8", "Gartenweg 3, Ost/West, 3600 Thun^^^^^CH", "Station Ost", "Ost", True),
    ("R253-9", "Gartenweg 3, Lab (Bern)^^^^^CH", "Lab informiert", "Lab", True),
    ("R253-1", "Gartenweg 3, 3600 Thun (BE)^^^^^CH", "aus Thun", "Thun", False),
    ("R254-1", "Gartenweg 3, 6300, Zug (ZG)^^^^^CH", "wohnt in Zug", "Zug", False),
    ("R254-2", "Gartenweg 3, Thun/BE, 3600^^^^^CH", "aus Thun", "Thun", False),
    ("R254-3", "Gartenweg 3, CH-6300, Zug/ZG^^^^^CH", "wohnt in Zug", "Zug", False),
]


@pytest.mark.parametrize(("cid", "address", "note", "word", "stays"), CASES)
async def test_a_word_before_a_bracket_or_slash_is_kept_or_scrubbed_as_a_city(
    lab: Lab, cid: str, address: str, note: str, word: str, stays: bool
) -> None:
    (ack,) = await exchange(lab, crp(cid, address, note))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, cid) if s.startswith("NTE")]
    assert (word in nte) == stays and ("[redacted]" in nte) != stays, (address, nte)


async def test_a_json_range_keeps_a_short_word_of_the_address(lab: Lab) -> None:
    _, _, kept = await _json(lab, {"address": "Gartenweg 3, Ost/West"}, reference_range="Ost 0-5")
    assert kept["results"][0]["reference_range"] == "Ost 0-5", kept
