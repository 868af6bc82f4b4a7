"""An AE names where its error lies (ERR-2 from v2.5, ERR-1's first components before),
over the real MLLP socket and ``POST /v1/hl7``: the laboratory's interface analyst finds the
result at fault without reading the whole message."""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


def err(ack: str) -> str:
    return next(segment for segment in ack.split("\r") if segment.startswith("ERR"))


async def test_the_result_at_fault_and_its_field_are_named(lab: Lab) -> None:
    good, bad_unit = obx("1988-5", "12", "mg/L"), obx("1988-5", "12", "U/L", sub_id="2")
    v24 = oru("LOC-2", [obx("1988-5", "twelve", "mg/L")], version="2.4")
    client = await lab.mllp()
    unit_ack = await client.exchange(oru("LOC-1", [good, bad_unit]))
    value_ack = await client.exchange(v24)
    accepted = await client.exchange(oru("LOC-3", [good]))
    await client.close()
    assert msa(unit_ack)[1] == "AE" and err(unit_ack).startswith("ERR||OBX^2^6|103^"), unit_ack
    # the value's OBX alone: a value is refused for its type (OBX-2) or flags (OBX-8) too
    assert err(value_ack).startswith("ERR|OBX^1^^102&Data type error&HL70357"), value_ack
    assert msa(accepted)[1] == "AA" and "\rERR|" not in accepted


async def test_the_patients_identifier_is_named_over_http(lab: Lab) -> None:
    message = oru("LOC-4", [obx("1988-5", "50", "mg/L")], pid3="^^^HOSP^MR")  # no number
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{lab.http}/v1/hl7", data=message) as response,
    ):
        ack = await response.text()
    assert msa(ack)[1] == "AE", ack
    assert err(ack).startswith("ERR||PID^1^3|101^Required field missing^HL70357"), ack


async def test_a_time_from_the_order_and_a_refused_version_are_not_misplaced(lab: Lab) -> None:
    """A collection time before 2000 taken from OBR-7 (OBX-14 empty) names the OBX alone,
    never the empty OBX-14; a version refused names MSH-12, not the message type."""
    old = oru("LOC-5", [obx("1988-5", "12", "mg/L", observed="")], order_time="19900101070000")
    client = await lab.mllp()
    time_ack = await client.exchange(old)
    version_ack = await client.exchange(oru("LOC-6", [obx("1988-5", "12", "mg/L")], version="2.6"))
    await client.close()
    assert msa(time_ack)[1] == "AE" and err(time_ack).startswith("ERR||OBX^1|102^"), time_ack
    assert err(version_ack).startswith("ERR||MSH^1^12|203^Unsupported version id"), version_ack
