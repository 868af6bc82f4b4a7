"""Review 256 through MLLP (PID-11.1, NK1-4), POST /v1/lab-results (JSON ``address``) and
/fhir/Observation (an address ``line``) on PostgreSQL and the broker: what follows a bracket
or slash of a one-line address is a region only when it names one (a Swiss canton's code in
any case, ``Kt. BE``, a canton's name, another country's region or country code written in
capitals), never a floor or unit abbreviation.

D1 (PHI): a short city with its canton written otherwise than as two or three capitals
(``zug (zg)``, ``Zug/zg``, ``Thun (Kt. BE)``, ``Sion (Valais)``; also ``Zug [ZG]``, ``Thun
BE``), its postal code in a part of its own or none, was searched for only whole, so a note
repeating the city kept it. D2: an everyday word before a floor abbreviation or other
capitals (``App. (OG)``, ``Haus (EG)``, ``Whg/OG``, ``Tel/FAX``) was cut from every note."""

from __future__ import annotations

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_real_message_shapes import exchange
from tests.integration.test_lab_review224 import _kept, crp
from tests.integration.test_lab_review232 import _json
from tests.integration.test_lab_review242_addresses import _fhir_note

pytestmark = pytest.mark.integration

# (control id, one-line address, note, the note as kept): one shape each
LINES = [
    # D1: a short city before its canton, however written, is scrubbed by its name
    ("R256-1", "Gartenweg 3, 6300, zug (zg)", "wohnt in Zug", "wohnt in [redacted]"),
    ("R256-2", "Gartenweg 3, 6300, Zug/zg", "wohnt in Zug", "wohnt in [redacted]"),
    ("R256-3", "Gartenweg 3, 6300, Zug (Zg)", "wohnt in Zug", "wohnt in [redacted]"),
    ("R256-4", "Gartenweg 3, 3600, Thun (Kt. BE)", "aus Thun, Kt. BE", "aus [redacted], Kt. BE"),
    ("R256-5", "Gartenweg 3, Thun (Kt. BE), 3600", "aus Thun", "aus [redacted]"),
    ("R256-6", "Gartenweg 3, 3600, Thun (Kanton Bern)", "aus Thun", "aus [redacted]"),
    ("R256-7", "Gartenweg 3, 1950, Sion (Valais)", "aus Sion, Valais", "aus [redacted], Valais"),
    ("R256-8", "Gartenweg 3, 6300, Zug [ZG]", "wohnt in Zug", "wohnt in [redacted]"),
    ("R256-9", "Gartenweg 3, 3600, Thun BE", "aus Thun", "aus [redacted]"),
    ("R256-10", "Gartenweg 3, Zug (CH)", "wohnt in Zug", "wohnt in [redacted]"),
    # D2: an everyday word before a floor or unit abbreviation stays
    ("R256-11", "Gartenweg 3, App. (OG), 3600 Thun", "App meldet CRP", "App meldet CRP"),
    ("R256-12", "Gartenweg 3, Haus (EG), 3600 Thun", "Haus informiert", "Haus informiert"),
    ("R256-13", "Gartenweg 3, Whg/OG, 3600 Thun", "Whg bekannt", "Whg bekannt"),
    ("R256-14", "Gartenweg 3, Ost (EG)", "Station Ost", "Station Ost"),
    ("R256-15", "Gartenweg 3, Büro (DG)", "Büro informiert", "Büro informiert"),
    ("R256-16", "Gartenweg 3, Tel/FAX", "Tel bekannt", "Tel bekannt"),
]
# the shapes each other way in: (one-line address, note, the note as kept)
OTHER_WAYS = [
    ("Gartenweg 3, 6300, zug (zg)", "wohnt in Zug", "wohnt in [redacted]"),
    ("Gartenweg 3, Thun (Kt. BE), 3600", "aus Thun", "aus [redacted]"),
    ("Gartenweg 3, 1950, Sion (Valais)", "aus Sion, Valais", "aus [redacted], Valais"),
    ("Gartenweg 3, App. (OG), 3600 Thun", "App meldet CRP", "App meldet CRP"),
    ("Gartenweg 3, Whg/OG, 3600 Thun", "Whg bekannt", "Whg bekannt"),
]


@pytest.mark.parametrize(("cid", "address", "note", "kept"), LINES)
async def test_hl7_address_line_scrubs_a_city_before_its_region_and_keeps_everyday_words(
    lab: Lab, cid: str, address: str, note: str, kept: str
) -> None:
    (ack,) = await exchange(lab, crp(cid, f"{address}^^^^^CH", note))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, cid) if s.startswith("NTE")]
    assert nte == f"NTE|1||{kept}", (address, nte)


@pytest.mark.parametrize(("address", "note", "kept"), OTHER_WAYS)
async def test_hl7_next_of_kin_address_line(lab: Lab, address: str, note: str, kept: str) -> None:
    nk1 = f"NK1|1|DOE^JANE|SPO|{address}^^^^^CH"
    (ack,) = await exchange(lab, crp("R256-NK1", "", note, nk1=nk1))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, "R256-NK1") if s.startswith("NTE")]
    assert nte == f"NTE|1||{kept}", (address, nte)


@pytest.mark.parametrize(("address", "note", "kept"), OTHER_WAYS)
async def test_json_address(lab: Lab, address: str, note: str, kept: str) -> None:
    _, _, copy = await _json(lab, {"address": address}, reference_range=note)
    assert copy["results"][0]["reference_range"] == kept, (address, copy)


@pytest.mark.parametrize(("address", "note", "kept"), OTHER_WAYS)
async def test_fhir_address_line(lab: Lab, address: str, note: str, kept: str) -> None:
    assert await _fhir_note(lab, {"line": [address]}, note) == kept, address


async def test_hl7_city_component_is_never_searched_by_its_canton_name_alone(lab: Lab) -> None:
    """A city component with its canton's name (PID-11.3 ``Sion (Valais)``): the city is
    scrubbed by its name, the canton's name is never searched for alone."""
    msg = crp("R256-C", "Rue du Rhône 3^^Sion (Valais)^^1950^CH", "aus Sion, Kanton Valais")
    (ack,) = await exchange(lab, msg)
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [s for s in await _kept(lab, "R256-C") if s.startswith("NTE")]
    assert nte == "NTE|1||aus [redacted], Kanton Valais", nte


async def test_sender_order_and_unit_like_words_stay(lab: Lab) -> None:
    address = "Gartenweg 3, 6300, Zug (ZG), mg/dL, Hb (g/L), ok/ja, li/re^^^^^CH"
    note = "Hb (g/L) ok/ja li/re mg/dL wohnt in Zug"
    msg = crp("R256-K", address, note, sender="LIS|ZUG", order="ZUG-7")
    (ack,) = await exchange(lab, msg)
    assert ack[1] in ("AE", "AR"), ack
    kept = await _kept(lab, "R256-K")
    (nte,) = [s for s in kept if s.startswith("NTE")]
    assert nte == "NTE|1||Hb (g/L) ok/ja li/re mg/dL wohnt in [redacted]", nte
    assert "|LIS|ZUG|" in kept[0] and any("ZUG-7" in s for s in kept if s.startswith("ORC"))
