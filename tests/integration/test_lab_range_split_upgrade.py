"""Over the real MLLP socket (PostgreSQL, broker; review 128): a trial result's OBX-7 split
by a unit's plain caret (``1.8-7.5 x10^9/L``) is read whole since eae8c09, and was read as
its first component alone (``1.8-7.5 x10``) before; the range is part of the message's
digest. A message stored before the upgrade and resent after it (its ACK lost) was answered
AE, "MSH-10 was used before for a message with other results", and kept as a reused id; a
rejection kept before was refused replay, "does not read as the message did". Both are
known as what they were now. The old version is played by reading OBX-7 as it did
(``unit_carets.range_split`` answering no)."""

from __future__ import annotations

import argparse
import uuid

import pytest

from cachexia.rejections import run_rejection_command
from services.lab_ingestion.adapters import hl7_obx
from services.lab_ingestion.adapters.sources import add_source
from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

ANC = obx("26499-4", "2.5", "10*9/L", ref="1.8-7.5 x10^9/L")


def _as_before_eae8c09(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hl7_obx, "range_split", lambda first, second: False)


async def test_a_message_stored_before_the_upgrade_and_resent_is_a_duplicate(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await lab.mllp()
    try:
        with monkeypatch.context() as before:
            _as_before_eae8c09(before)
            stored = await client.exchange(oru("R128-UP", [ANC]))
        # a row stored before migration 0029 (it took false)
        await lab.pool.execute("UPDATE messages SET digest_reads_split_ranges = false")
        resent = await client.exchange(oru("R128-UP", [ANC]))  # upgraded; its ACK was lost
    finally:
        await client.close()
    assert msa(stored)[1:3] == ["AA", "R128-UP"], stored
    assert msa(resent)[1:3] == ["AA", "R128-UP"], resent
    assert "duplicate" in msa(resent)[3], resent
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 0
    assert len(await lab.events(LAB_RESULTS, 1)) == 1


async def test_a_range_cut_short_stored_since_and_sent_whole_is_another_message(
    lab: Lab,
) -> None:
    """Review 129: stored since the upgrade with OBX-7 `1.8-7.5 x10` (no range), the same
    MSH-10 with `1.8-7.5 x10^9/L` was answered "duplicate" and the range dropped."""
    short = obx("26499-4", "2.5", "10*9/L", ref="1.8-7.5 x10")
    client = await lab.mllp()
    try:
        stored = await client.exchange(oru("R129-RG", [short]))
        whole = await client.exchange(oru("R129-RG", [ANC]))
    finally:
        await client.close()
    assert msa(stored)[1] == "AA", stored
    assert msa(whole)[1] == "AE" and "MSH-10" in msa(whole)[3], whole
    assert (
        await lab.pool.fetchval("SELECT reason_code FROM rejections WHERE control_id = 'R129-RG'")
        == "reused-message-id"
    )


async def test_a_rejection_kept_before_the_upgrade_replays(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await lab.mllp()
    try:
        with monkeypatch.context() as before:
            _as_before_eae8c09(before)
            refused = await client.exchange(oru("R128-NEW", [ANC], application="NEW"))
    finally:
        await client.close()
    assert msa(refused)[1] == "AR", refused
    rejection = await lab.pool.fetchval(
        "SELECT rejection_id FROM rejections WHERE control_id = 'R128-NEW'"
    )
    async with lab.pool.acquire() as conn:
        await add_source(conn, "NEW", "HOSP")
    args = argparse.Namespace(
        command="replay", rejection_command=None, rejection_id=uuid.UUID(str(rejection)),
        dry_run=False,
    )  # fmt: skip
    assert await run_rejection_command(lab.settings, args) == 0
    row = await lab.pool.fetchrow("SELECT value, reference_low, reference_high FROM results")
    assert row is not None and tuple(row) == (2.5, 1.8, 7.5)  # read as now: whole


async def test_a_bad_escape_in_a_range_component_never_joined_is_not_read(lab: Lab) -> None:
    """``0-10^\\Zab\\`` on a CRP: refused whole (AE, "OBX-7 holds an escape sequence HL7
    does not define") since eae8c09 read OBX-7's second component strictly; stored before
    with the range 0-10, as now."""
    client = await lab.mllp()
    try:
        acks = [
            await client.exchange(
                oru(f"R128-E{n}", [obx("1988-5", "5", "mg/L", ref=ref)], order=f"ORD-E{n}")
            )
            for n, ref in enumerate(["0-10^\\Zab\\", "0-10^\\Cxxyy\\"])
        ]
    finally:
        await client.close()
    assert [msa(ack)[1] for ack in acks] == ["AA", "AA"], acks
    rows = await lab.pool.fetch("SELECT reference_low, reference_high FROM results")
    assert [tuple(r) for r in rows] == [(0.0, 10.0), (0.0, 10.0)]


async def test_a_unit_split_in_a_repetition_is_refused_by_its_cause(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        ack = await client.exchange(oru("R128-REP", [obx("26499-4", "2.5", "10*9/L~x10^9/L")]))
    finally:
        await client.close()
    assert msa(ack)[1] == "AE", ack
    reason = await lab.pool.fetchval("SELECT reason FROM rejections")
    assert "OBX-6 holds 'x10' and '9/L' as two components in a repetition of OBX-6" in reason
    assert "beside" not in reason
