"""A v2.5.1 LRI/ELR sender named by its universal ID only (MSH-3 ``^OID^ISO``) is
allow-listed by that OID and answered as the HD it sent (review 68)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

APPLICATION, FACILITY = "2.16.840.1.113883.3.72.5.20", "2.16.840.1.113883.3.72.5.21"


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


async def _post(lab: Lab, control_id: str) -> str:
    message = oru(
        control_id, [obx("1988-5", "12", "mg/L")],
        application=f"^{APPLICATION}^ISO", facility=f"^{FACILITY}^ISO",
    )  # fmt: skip
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/v1/hl7", data=message, headers=auth) as answer,
    ):
        return await answer.text()


async def test_a_sender_named_by_universal_id_is_allowed_by_it(lab: Lab) -> None:
    refused = await _post(lab, "LRI-1")
    assert msa(refused)[1] == "AR"  # unknown-source, named by its OIDs (MSA-3 escapes ^)
    assert f"sender '{APPLICATION}\\S\\{FACILITY}'" in msa(refused)[3]
    async with lab.pool.acquire() as conn:
        await add_source(conn, APPLICATION, FACILITY)  # cachexia source add, by the OIDs
    await asyncio.sleep(2.5)
    ack = await _post(lab, "LRI-2")
    assert msa(ack)[1] == "AA", ack
    assert ack.split("\r")[0].split("|")[4:6] == [f"^{APPLICATION}^ISO", f"^{FACILITY}^ISO"]
    sources = await lab.pool.fetch("SELECT DISTINCT source FROM results")
    assert [r["source"] for r in sources] == [f"{APPLICATION}^{FACILITY}"]
