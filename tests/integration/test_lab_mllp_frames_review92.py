"""MLLP framing found wanting in review 92, through the real socket and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import CR, FS, VT, frame, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, lab  # noqa: F401  (the fixture)


async def test_a_frame_ended_by_fs_before_the_next_vt_is_answered(lab: Lab) -> None:  # noqa: F811 - the fixture, imported
    """``<VT>M1<FS><VT>M2<FS><CR>``: M1 was kept as an abandoned block and never answered."""
    m1 = oru("FV-1", [obx("1988-5", "40", "mg/L")], order="ORD1")
    m2 = oru("FV-2", [obx("1988-5", "20", "mg/L")], order="ORD2")
    client = await lab.mllp()
    await client.send(VT + m1.encode() + FS + VT + m2.encode() + FS + CR)
    first, second = msa(await client.ack()), msa(await client.ack())
    await client.close()
    assert (first[1:3], second[1:3]) == (["AA", "FV-1"], ["AA", "FV-2"])
    rows = await lab.pool.fetch("SELECT value FROM results ORDER BY value")
    assert [r["value"] for r in rows] == [20, 40]
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 0


async def test_an_empty_frame_is_not_answered_nor_kept(lab: Lab) -> None:  # noqa: F811 - the fixture, imported
    """An engine's keep-alive ``<VT><FS><CR>`` was answered AR (MSA-2 empty), which such an
    engine paired with its next message. Only the real message is answered."""
    client = await lab.mllp()
    await client.send(VT + FS + CR + VT + b" \r\n" + FS + CR)  # two keep-alives
    await client.send(frame(oru("EF-1", [obx("1988-5", "20", "mg/L")])))
    assert msa(await client.ack())[1:3] == ["AA", "EF-1"]
    with pytest.raises(TimeoutError):  # nothing more comes
        await client.ack(timeout=0.5)
    await client.close()
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 0
    assert await lab.metric("lab_mllp_empty_frames_total") == 2


async def test_a_frame_over_the_limit_is_answered_and_the_connection_goes_on(
    lab: Lab,  # noqa: F811 - the fixture, imported
) -> None:
    """Over CACHEXIA_MLLP_MAX_MESSAGE_BYTES (1 MiB) a frame was answered AR with an empty
    MSA-2 and its connection closed: the engine could not pair the AR and resent for ever."""
    limit = lab.settings.mllp_max_message_bytes
    big = oru("OVER-1", [obx("1988-5", "40", "mg/L")], version="2.4")
    big += "NTE|1||" + "x" * (limit + 1000) + "\r"
    client = await lab.mllp()
    await client.send(frame(big))
    refused = await client.ack()
    assert msa(refused)[1:3] == ["AR", "OVER-1"]
    msh = refused.split("\r", 1)[0].split("|")
    assert (msh[4], msh[5], msh[11]) == ("LIS", "HOSP", "2.4")  # MSH-5/6, MSH-12 echoed
    assert "ERR|^^^207&" in refused  # v2.4: ERR-1
    ack = msa(await client.exchange(oru("OVER-2", [obx("1988-5", "20", "mg/L")])))
    await client.close()
    assert ack[1:3] == ["AA", "OVER-2"]
    rows = await lab.pool.fetch("SELECT reason, payload FROM rejections")
    assert [r["reason"] for r in rows] == [f"message larger than {limit} bytes"]
    assert "x" * 100 not in rows[0]["payload"]  # not held, not kept
    assert [r["value"] for r in await lab.pool.fetch("SELECT value FROM results")] == [20]
