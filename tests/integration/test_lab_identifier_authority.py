"""A patient named by hospital numbers of several assigning authorities, over the real MLLP
socket: never matched by the number that comes first; the sender's configured authority
(`cachexia source add --identifier-authority`) chooses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.contracts.topics import LAB_REJECTED
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, msa, obx, oru
from tests.integration.test_lab_ingestion import SUBJECT, Lab, running_lab

pytestmark = pytest.mark.integration


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


# PID-3: a regional medical record number first, then the hospital's
TWO_AUTHORITIES = f"R-4711^^^REGION^MR~{MRN}^^^HOSP^MR"


async def test_numbers_of_several_authorities_are_rejected_without_configuration(lab: Lab) -> None:
    client = await lab.mllp()
    ack = await client.exchange(oru("AUTH-1", [obx("1988-5", "40", "mg/L")], pid3=TWO_AUTHORITIES))
    await client.close()
    fields = msa(ack)
    assert fields[1:3] == ["AE", "AUTH-1"], ack
    assert "2 assigning authorities" in fields[3]
    assert "|205^" in ack.split("\r")[2]  # ERR: HL7 error 205
    rejection = await lab.pool.fetchrow("SELECT reason_code, reason, payload FROM rejections")
    assert rejection is not None and rejection["reason_code"] == "ambiguous-patient-identifier"
    assert "--identifier-authority" in rejection["reason"]
    assert "REGION" not in rejection["reason"]  # CX-4 is free text: counted, never named
    assert "^^^REGION^MR~HMAC:" in rejection["payload"]  # the kept message shows them
    assert MRN not in rejection["payload"] and "R-4711" not in rejection["payload"]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    (event,) = await lab.events(LAB_REJECTED, 1)
    assert event.payload["reason_code"] == "ambiguous-patient-identifier"


async def test_the_senders_authority_chooses_the_number(lab: Lab) -> None:
    async with lab.pool.acquire() as conn:  # before the service read the allow-list
        await add_source(conn, "LIS", "HOSP", identifier_authority="HOSP")
    client = await lab.mllp()
    chosen = await client.exchange(
        oru("AUTH-2", [obx("1988-5", "41", "mg/L")], pid3=TWO_AUTHORITIES)
    )
    # the enrolled number under another authority: not this patient
    other = await client.exchange(
        oru("AUTH-3", [obx("1988-5", "42", "mg/L")], pid3=f"{MRN}^^^REGION^MR")
    )
    await client.close()
    assert msa(chosen)[1] == "AA", chosen
    stored = await lab.pool.fetch("SELECT subject_id, value FROM results")
    assert [(r["subject_id"], r["value"]) for r in stored] == [(SUBJECT, 41.0)]
    fields = msa(other)
    assert fields[1] == "AE" and "assigning authority 'HOSP'" in fields[3], other
