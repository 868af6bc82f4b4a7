"""lab-ingestion over its real MLLP socket (PostgreSQL and Kafka behind it): frames split where
a reader can go wrong, a sender known by its application only, and a result that cannot be
obtained after it was reported."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.contracts.topics import LAB_RESULTS
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import CR, FS, frame, msa, obx, oru
from tests.integration.test_lab_ingestion import SUBJECT, Lab, running_lab

pytestmark = pytest.mark.integration

# how long an ACK may take to come when one is due is ``MllpClient.ack``'s 15 s; one that is
# not due is waited for this long (a frame without its last byte is not answered at all)
NOT_ANSWERED_SECONDS = 0.3


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


async def test_a_frame_is_answered_only_once_its_end_mark_is_complete(lab: Lab) -> None:
    """<FS> read, <CR> not yet: the frame is not complete, and nothing is answered until the
    <CR> comes in a read of its own."""
    client = await lab.mllp()
    try:
        data = frame(oru("END-1", [obx("1988-5", "20", "mg/L")]))
        assert data.endswith(FS + CR)
        await client.send(data[:-1])
        early = asyncio.ensure_future(client.ack())
        done, _ = await asyncio.wait({early}, timeout=NOT_ANSWERED_SECONDS)
        assert not done, f"answered before the frame's <CR>: {early.result()!r}"
        await client.send(CR)
        assert msa(await early)[1:3] == ["AA", "END-1"]
    finally:
        await client.close()
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1


# MSH-18 (after MSH-12's version, five empty fields) declaring UTF-8; the test's name in
# OBX-3 holds an "ü" (no PHI), written in two bytes
UTF_8_HEADER = "|P|2.5.1||||||UNICODE UTF-8"
TEST_NAME = "C-reaktives Protein (Entzündung)"


def declaring_utf_8(message: str) -> str:
    assert message.count("|P|2.5.1") == 1
    return message.replace("|P|2.5.1", UTF_8_HEADER).replace("^Test^LN", f"^{TEST_NAME}^LN")


@pytest.mark.parametrize(("unit", "code"), [("mg/L", "AA"), ("furlongs", "AE")])
async def test_a_character_split_across_tcp_reads_is_read_whole(
    lab: Lab, unit: str, code: str
) -> None:
    """A read ending between the two bytes of "ü": the frame is decoded whole, in the set
    its MSH-18 declares (a read decoded on its own had made the message invalid UTF-8, and
    answered it AR as malformed). Refused (AE), its kept copy holds the name as written."""
    message = declaring_utf_8(oru("UTF8-1", [obx("1988-5", "20", unit)]))
    data = frame(message)
    u_umlaut = "ü".encode()
    cut = data.index(u_umlaut) + 1  # between its two bytes
    client = await lab.mllp()
    try:
        await client.send(data[:cut])
        await asyncio.sleep(0.05)  # a read of its own (not timed: no answer is awaited)
        await client.send(data[cut:])
        ack = await client.ack()
    finally:
        await client.close()
    assert msa(ack)[1:3] == [code, "UTF8-1"], ack
    if code == "AA":
        assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    else:
        kept = await lab.pool.fetchval("SELECT payload FROM rejections")
        assert TEST_NAME in kept, kept


async def test_an_allowed_application_at_another_facility_is_an_unknown_source(
    lab: Lab,
) -> None:
    """The allow-list names senders (MSH-3 and MSH-4 together): LIS at HOSP is allowed, the
    same application at another facility is not."""
    client = await lab.mllp()
    try:
        ack = await client.exchange(
            oru("ELSE-1", [obx("1988-5", "50", "mg/L")], facility="ELSEWHERE")
        )
    finally:
        await client.close()
    assert msa(ack)[1:3] == ["AR", "ELSE-1"], ack
    assert "allow-list" in msa(ack)[3]
    assert await lab.pool.fetchval("SELECT reason_code FROM rejections") == "unknown-source"
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0


async def test_an_allowed_facility_under_another_application_is_an_unknown_source(
    lab: Lab,
) -> None:
    async with lab.pool.acquire() as conn:
        await add_source(conn, "OTHERLIS", "ELSEWHERE")  # each part allowed in another sender
    client = await lab.mllp()
    try:
        ack = await client.exchange(
            oru("ELSE-2", [obx("1988-5", "50", "mg/L")], application="OTHERLIS")
        )
    finally:
        await client.close()
    assert msa(ack)[1:3] == ["AR", "ELSE-2"], ack
    assert await lab.pool.fetchval("SELECT reason_code FROM rejections") == "unknown-source"


async def test_a_final_result_then_cannot_be_obtained_is_cancelled_over_the_socket(
    lab: Lab,
) -> None:
    """F, then X under the same key (order, test and sub-id): the result is withdrawn with
    a LabResultCancelled naming it, for the reason "cannot-be-obtained" (D says "deleted")."""
    client = await lab.mllp()
    try:
        final = await client.exchange(oru("FX-1", [obx("1988-5", "40", "mg/L")]))
        withdrawn = await client.exchange(oru("FX-2", [obx("1988-5", "", "", status="X")]))
    finally:
        await client.close()
    assert msa(final)[1] == "AA", final
    assert msa(withdrawn)[1] == "AA", withdrawn
    assert "1 earlier result(s) cancelled" in msa(withdrawn)[3]

    recorded, cancelled = await lab.events(LAB_RESULTS, 2)
    assert recorded.event_type == "LabResultRecorded"
    assert cancelled.event_type == "LabResultCancelled"
    assert cancelled.subject_id == recorded.subject_id == SUBJECT
    assert cancelled.payload["reason"] == "cannot-be-obtained"
    assert cancelled.payload["cancelled_result_id"] == recorded.payload["result_id"]
    stored = await lab.pool.fetch("SELECT result_id, cancelled_at FROM results")
    assert len(stored) == 1 and stored[0]["cancelled_at"] is not None
    assert str(stored[0]["result_id"]) == str(recorded.payload["result_id"])


async def test_garbage_then_a_message_each_get_exactly_one_ack(lab: Lab) -> None:
    """Review 117: a frame without a <VT> answered twice passed every MLLP test, which read
    the ACKs they expected and no further. Each frame gets one ACK, and nothing more comes."""
    client = await lab.mllp()
    try:
        await client.send(b"this is not MLLP" + FS + CR)
        first = msa(await client.ack())
        after = msa(await client.exchange(oru("AFTER-1", [obx("1988-5", "20", "mg/L")])))
        with pytest.raises(TimeoutError):  # nothing more is sent
            await asyncio.wait_for(client.reader.read(1), 1.5)
    finally:
        await client.close()
    assert first[1] == "AR" and "VT" in first[3]
    assert after[1:3] == ["AA", "AFTER-1"], after
