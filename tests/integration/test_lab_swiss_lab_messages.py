"""Review 130, over the real MLLP socket: the trial's Swiss laboratories (CH-01) send HL7
v2.4 in Latin-1 and write in German. A CBC whose platelets say ``Thrombozytenaggregate``
beside a grade-4 ANC was answered AE non-numeric-value, the ANC lost; platelets ``95'000``
/uL (the Swiss thousands apostrophe) and an ANC in ``Mrd/l`` (Milliarden pro Liter) were
refused. Now the ANC and haemoglobin are stored (AA), the platelets counted not obtained,
``95'000`` /uL stored as 95 x10^9/L and ``0,35 Mrd/l`` as 0.35 x10^9/L; each resent under
its id is a duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, frame, msa
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        async with lab.pool.acquire() as conn:
            await add_source(
                conn, "SYNLAB", "SYNCH", time_zone="Europe/Zurich", site_id="CH-01",
                identifier_authority="HOSP",
            )  # fmt: skip
        await asyncio.sleep(2.5)  # the README: a source's settings are live within 2 s
        yield lab


def _cbc(control_id: str, order: str, platelets: str, platelet_unit: str, anc_unit: str) -> str:
    """A Synlab CBC as sent: HL7 v2.4, Latin-1 (MSH-18 8859/1), times without an offset
    (read in Europe/Zurich), decimal commas, German names."""
    return (
        f"MSH|^~\\&|SYNLAB|SYNCH|LENA|TRIAL|20261120091523||ORU^R01|{control_id}|P|2.4|||AL|NE||"
        "8859/1\r"
        f"PID|1||{MRN}^^^HOSP^PI||Muster^Max||19580214|M\r"
        f"OBR|1|AUF{order}|SYN-{order}|BB^Blutbild^L|||20261120081500||||||||||||||"
        "20261120120000|||F\r"
        "OBX|1|NM|LEUK^Leukozyten^L^6690-2^Leukocytes^LN||1,1|G/l|3,5-10,0|L|||F\r"
        f"OBX|2|NM|NEUTA^Neutrophile abs.^L^751-8^Neutrophils^LN||0,35|{anc_unit}|1,8-7,7|LL|||F\r"
        f"OBX|3|ST|THRO^Thrombozyten^L^777-3^Platelets^LN||{platelets}|{platelet_unit}|"
        "150-400||||F\r"
        "OBX|4|NM|HB^Hämoglobin^L^718-7^Hemoglobin^LN||12,1|g/dl|13,5-17,5|L|||F\r"
    )


async def _send(lab: Lab, message: str) -> list[str]:
    client = await lab.mllp()
    try:
        await client.send(frame(message, "latin-1"))
        return msa(await client.ack())
    finally:
        await client.close()


async def _stored(lab: Lab, order: str) -> list[tuple[str, float, str, str]]:
    rows = await lab.pool.fetch(
        "SELECT r.analyte, r.value, r.unit, r.original_value FROM results r"
        " JOIN messages m USING (message_id) WHERE m.control_id = $1 ORDER BY r.analyte",
        lab.stored_id(order),
    )
    return [tuple(r) for r in rows]


async def test_the_anc_beside_thrombozytenaggregate_is_stored(lab: Lab) -> None:
    message = _cbc("R130-1", "1", "Thrombozytenaggregate", "G/l", "G/l")
    assert (await _send(lab, message))[1:4] == ["AA", "R130-1", "accepted; 2 result(s) stored"]
    assert await _stored(lab, "R130-1") == [
        ("haemoglobin", 12.1, "g/dL", "12,1"), ("neutrophils", 0.35, "10*9/L", "0,35"),
    ]  # fmt: skip
    assert await lab.metric("lab_results_not_obtained_total", channel="mllp") == 1
    events = await lab.events("lab.results.v1", at_least=2)
    assert sorted(e.payload["analyte"] for e in events) == ["haemoglobin", "neutrophils"]
    # resent under its id (a lost ACK): the same message, nothing stored twice
    again = await _send(lab, message)
    assert again[1] == "AA" and "duplicate" in again[3], again
    assert len(await _stored(lab, "R130-1")) == 2
    assert await lab.metric("lab_results_not_obtained_total", channel="mllp") == 1


async def test_a_swiss_thousands_apostrophe_and_milliarden_per_litre_are_read(lab: Lab) -> None:
    message = _cbc("R130-2", "2", "95'000", "/uL", "Mrd/l")
    assert (await _send(lab, message))[1:4] == ["AA", "R130-2", "accepted; 3 result(s) stored"]
    assert await _stored(lab, "R130-2") == [
        ("haemoglobin", 12.1, "g/dL", "12,1"), ("neutrophils", 0.35, "10*9/L", "0,35"),
        ("platelets", 95.0, "10*9/L", "95'000"),
    ]  # fmt: skip
    # an apostrophe that may be anything else stays refused, the lab told
    refused = await _send(lab, _cbc("R130-3", "3", "12'34", "/uL", "G/l"))
    assert refused[1] == "AE" and "not a plain decimal" in refused[3], refused
