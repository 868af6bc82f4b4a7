"""Review 227 through the real MLLP socket on PostgreSQL and the broker: a postal code with
its city written in PID-11 as a component of its own (``3600 Thun`` in PID-11.1, or in the
city component) is a place, so a laboratory named so (``LABOR|3600 THUN``) keeps its name
and its copies replay; an other designation ``12 B`` makes no secret that cuts an order
number ``12 B``; and a one-line address's alphanumeric postcode (``SW1A 2AA``) and a street
written before an apartment (``1234 Main St`` of ``1234 Main St Apt 5B``) are scrubbed from a
note."""

from __future__ import annotations

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_real_message_shapes import exchange
from tests.integration.test_lab_review224 import _kept, _replays, crp

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("cid", "address"),
    [("R227-1", "3600 Thun"), ("R227-2", "Gartenweg 3^^3600 Thun^^^CH")],
)
async def test_a_postcode_with_its_city_in_pid11_leaves_the_sender_as_sent(
    lab: Lab, cid: str, address: str
) -> None:
    """A component holding a postcode with its city was searched for everywhere: MSH-4
    ``3600 THUN`` was cut and the copy did not replay."""
    message = crp(cid, address, "ok", sender="LABOR|3600 THUN", unit="mg/L")
    (ack,) = await exchange(lab, message)
    assert ack[1] in ("AE", "AR"), ack
    lines = await _kept(lab, cid)
    assert lines[0].startswith("MSH|^~\\&|LABOR|3600 THUN|"), lines[0]
    await _replays(lab, cid, "LABOR", "3600 THUN")


async def test_an_other_designation_leaves_an_order_number_as_sent(lab: Lab) -> None:
    """PID-11.2 ``12 B`` (an apartment) was a secret and cut the order number ``12 B``."""
    message = crp(
        "R227-3", "Gartenweg 3^12 B^Thun^^3600^CH", "ok", sender="NEW|HOSP", order="12 B",
        unit="mg/L",
    )  # fmt: skip
    (ack,) = await exchange(lab, message)
    assert ack[1] in ("AE", "AR"), ack
    lines = await _kept(lab, "R227-3")
    assert any(line.startswith("ORC|RE|12 B|") for line in lines), lines
    await _replays(lab, "R227-3", "NEW", "HOSP")


@pytest.mark.parametrize(
    ("cid", "address", "note", "postcode"),
    [
        ("R227-4", "10 Downing Street, London SW1A 2AA", "lives SW1A 2AA", "SW1A 2AA"),
        ("R227-6", "5 Oak Rd, Bath BA1 1AA", "post to BA1 1AA please", "BA1 1AA"),
        ("R227-7", "Unit 7, 3 Ash Ln, Leeds LS1 4AP", "moved to LS1 4AP", "LS1 4AP"),
        ("R227-8", "Damrak 1, Amsterdam 1012 AB", "zip 1012 AB", "1012 AB"),
    ],
)
async def test_an_alphanumeric_postcode_of_a_one_line_address_is_scrubbed(
    lab: Lab, cid: str, address: str, note: str, postcode: str
) -> None:
    """A postcode of letters and digits after the city was searched only with its city."""
    (ack,) = await exchange(lab, crp(cid, address, note))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [line for line in await _kept(lab, cid) if line.startswith("NTE")]
    assert postcode not in nte, nte


async def test_a_street_before_an_apartment_is_scrubbed(lab: Lab) -> None:
    """``1234 Main St Apt 5B``: the street was taken up to the apartment's number
    (``Main St Apt``), so a note's ``1234 Main St`` was kept."""
    message = crp(
        "R227-5", "1234 Main St Apt 5B, Springfield, IL 62704",
        "pt at 1234 Main St, Springfield IL 62704",
    )  # fmt: skip
    (ack,) = await exchange(lab, message)
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [line for line in await _kept(lab, "R227-5") if line.startswith("NTE")]
    assert "1234 Main St" not in nte, nte
