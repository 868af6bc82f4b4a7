"""Review 224 through the real MLLP socket on PostgreSQL and the broker: an address written
on one line (PID-11.1, NK1-4) whose house number comes first (``12 rue de la Paix, Metz``)
leaves no city in the kept copy; and the pieces of a line no longer make short secrets
(``12 B``, ``3 L``, ``12 mg``) nor scrub a sender named after a postcode and its city, so
a kept copy whose order number, range, note or MSH-4 reads so still replays."""

from __future__ import annotations

import asyncio

import pytest

from services.lab_ingestion.adapters.sources import add_source
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_real_message_shapes import exchange, j
from tests.integration.test_lab_replay import cli, rejection_of
from tests.integration.test_lab_review185 import TS

pytestmark = pytest.mark.integration


def crp(
    cid: str,
    address: str,
    note: str,
    *,
    nk1: str | None = None,
    sender: str = "LIS|HOSP",
    order: str = "",
    unit: str = "furlongs",
    range_: str = "0-5",
) -> str:
    """A CRP for a patient living at ``address`` (PID-11), with a note; from the listed
    LIS^HOSP its unit unknown (refused, kept), or from another (unlisted) sender."""
    order = order or f"PLC{cid}"
    return j(
        f"MSH|^~\\&|{sender}|LENA|TRIAL|20261120090000+0100||ORU^R01|{cid}|P|2.5.1",
        f"PID|1||MRN4711^^^HOSP^MR||DOE^JOHN||19580214|M|||{address}",
        *([nk1] if nk1 else []),
        f"ORC|RE|{order}|F{cid}",
        f"OBR|1|{order}|F{cid}|CRP^CRP^L|||{TS}",
        f"OBX|1|NM|1988-5^CRP^LN||42|{unit}|{range_}|H|||F|||{TS}",
        f"NTE|1||{note}",
    )


async def _kept(lab: Lab, cid: str) -> list[str]:
    payload = await lab.pool.fetchval("SELECT payload FROM rejections WHERE control_id = $1", cid)
    return str(payload).split("\r")


@pytest.mark.parametrize(
    ("cid", "address", "nk1", "note", "city"),
    [
        ("HN-1", "12 rue de la Paix, Metz^^^^^FR", None, "habite à Metz depuis 2020", "Metz"),
        ("HN-2", "5 Oak Rd, Bath^^^^^UK", None, "lives in Bath with wife", "Bath"),
        ("HN-3", "", "NK1|1|DOE^JANE|SPO|1234 Main St, Springfield",
         "wife lives in Springfield", "Springfield"),
    ],
)  # fmt: skip
async def test_city_after_a_house_number_written_first_is_scrubbed(
    lab: Lab,
    cid: str,
    address: str,
    nk1: str | None,
    note: str,
    city: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The city after a street whose house number is written first was taken for a country
    (only a postal code names a city) and kept in the note and ``rejection show``."""
    (ack,) = await exchange(lab, crp(cid, address, note, nk1=nk1))
    assert ack[1] in ("AE", "AR"), ack
    (nte,) = [line for line in await _kept(lab, cid) if line.startswith("NTE")]
    assert city not in nte, nte
    capsys.readouterr()
    await cli(lab, "rejection", await rejection_of(lab, cid), sub="show")
    assert city not in capsys.readouterr().out


async def _replays(lab: Lab, cid: str, application: str, facility: str) -> None:
    """The kept copy of an unlisted sender's message stores its result once it is listed."""
    async with lab.pool.acquire() as conn:
        await add_source(conn, application, facility)
    await asyncio.sleep(2.5)  # the senders are read again
    assert await cli(lab, "replay", await rejection_of(lab, cid)) == 0
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1


@pytest.mark.parametrize(
    ("cid", "address", "sender", "order", "note", "kept"),
    [
        # the house number's letter and the order number
        ("OS-1", "Haus 12 B, 3600 Thun", "NEW|HOSP", "12 B", "ok", "ORC|RE|12 B|FOS-1"),
        # a house number with what reads as a unit, and a note's value
        ("OS-2", "Gartenweg 12 mg, 3600 Thun", "NEW|HOSP", "", "CRP 12 mg/L am Vortag",
         "NTE|1||CRP 12 mg/L am Vortag"),
        # a laboratory named after a postcode and its city
        ("OS-3", "Labor 3, 3600 Thun", "LABOR|3600 THUN", "", "ok",
         "MSH|^~\\&|LABOR|3600 THUN|"),
        ("OS-4", "Spital 1, 3000 Bern", "LIS|3000 BERN", "", "ok", "MSH|^~\\&|LIS|3000 BERN|"),
    ],
)  # fmt: skip
async def test_a_piece_of_a_line_leaves_what_a_replay_reads_as_sent(
    lab: Lab,
    cid: str,
    address: str,
    sender: str,
    order: str,
    note: str,
    kept: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``12 B``, ``12 mg`` and ``3600 Thun`` were secrets searched everywhere: the order
    number, a note's value, MSH-4 were cut, and the copy did not replay."""
    message = crp(cid, address, note, sender=sender, order=order, unit="mg/L")
    (ack,) = await exchange(lab, message)
    assert ack[1] in ("AE", "AR"), ack
    lines = await _kept(lab, cid)
    assert any(line.startswith(kept) for line in lines), lines
    assert not any("Thun" in line or "Bern" in line for line in lines[1:]), lines
    application, facility = sender.split("|")
    await _replays(lab, cid, application, facility)


async def test_a_units_range_is_kept_beside_a_house_number_with_a_letter(lab: Lab) -> None:
    """``Gartenweg 3 L`` made ``3 L`` a secret: a range ``3 L`` was cut."""
    message = crp("OS-5", "Gartenweg 3 L, 3600 Thun", "wohnt in Thun", range_="3 L")
    (ack,) = await exchange(lab, message)
    assert ack[1] in ("AE", "AR"), ack
    (obx,) = [line for line in await _kept(lab, "OS-5") if line.startswith("OBX")]
    assert obx == f"OBX|1|NM|1988-5^CRP^LN||42|furlongs|3 L|H|||F|||{TS}", obx
    (nte,) = [line for line in await _kept(lab, "OS-5") if line.startswith("NTE")]
    assert nte == "NTE|1||wohnt in [redacted]", nte
