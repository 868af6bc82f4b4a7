"""A start block inside an MLLP frame, through the real socket and PostgreSQL.

A sender abandons frame M1 after its MSH (no <FS><CR>) and starts frame M2 with a new <VT>
on the same connection. Read as one message, M2's results were stored under M1's control id
and answered AA M1, and the real M1, resent, was refused as a reused message id. The
abandoned block is kept as a rejection and not answered; M2 is answered, and M1 resent is
stored."""

from __future__ import annotations

from tests.integration.lab_fixtures import VT, frame, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, lab  # noqa: F401  (the fixture)


async def test_an_abandoned_frame_is_kept_and_its_resend_is_stored(lab: Lab) -> None:  # noqa: F811 - the fixture
    m1 = oru("SB-1", [obx("1988-5", "40", "mg/L")], order="ORD1")
    m2 = oru("SB-2", [obx("1988-5", "20", "mg/L")], order="ORD2")
    client = await lab.mllp()
    await client.send(VT + m1.split("\r", 1)[0].encode() + b"\r")  # M1 cut after MSH
    await client.send(frame(m2))
    first = msa(await client.ack())
    # the lab resends what it has no ACK for: M2, then M1 (whole this time)
    second = msa(await client.exchange(m2))
    third = msa(await client.exchange(m1))
    await client.close()
    rows = await lab.pool.fetch("SELECT value FROM results ORDER BY value")
    assert first[1:3] != ["AA", "SB-1"], (first, second, third)
    assert third[1] == "AA", (first, second, third)
    assert sorted(r["value"] for r in rows) == [20, 40], (first, second, third, rows)
