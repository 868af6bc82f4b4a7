"""Over the real MLLP socket (PostgreSQL, broker; fixer 267): HL7 v2.7's CWE has a second
alternate coding triplet (CWE-10 identifier, CWE-11 text, CWE-12 coding system), which
OBX-3's reading passed over. ``1988-5^CRP^LN^CRP^CRP^L^^^^777-3^PLT^LN`` was published as a
CRP of 20 mg/L although the sender coded it as a platelet count too: it is refused as
ambiguous, as the same 777-3 in CWE-4 is. A trial code in CWE-10 alone
(``CRPX^CRP^99LAB^^^^^^^1988-5^CRP^LN``) makes the result a CRP, as in CWE-4.

A message stored before the upgrade whose trial result had CWE-10 filled was digested
without it; its resend after the upgrade (a lost ACK) is a duplicate still (migration 0040,
``message_identity.second_alternates_read_before``), but not where leaving the second
alternate out changes which results are trial results: one that is a CRP only by its CWE-10
was another test's then, and its resend is refused as a reused id and kept. The old version
is played by reading OBX-3's first two triplets only."""

from __future__ import annotations

import argparse
import json
import uuid

import hl7
import pytest

from cachexia.rejections import run_rejection_command
from services.lab_ingestion.adapters import hl7_observation
from services.lab_ingestion.adapters.hl7_fields import field_value
from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.domain.model import Coding
from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import TS, msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


def _crp(obx3: str, value: str = "20") -> str:
    return f"NM|{obx3}||{value}|mg/L|0-5||||F|||{TS}"


def _codes_as_before(obx: hl7.Segment, *, strict: bool = False) -> list[Coding]:
    """OBX-3 as read before fixer 267: the first two triplets of each repetition only."""
    codes = []
    count = len(obx[3]) if len(obx) > 3 else 0
    for repeat in range(1, max(count, 1) + 1):
        for first in (1, 4):
            code = field_value(obx, 3, repeat, first, strict=strict)
            if code or (repeat == 1 and first == 1):
                system = field_value(obx, 3, repeat, first + 2, strict=strict)
                text = field_value(obx, 3, repeat, first + 1) or None
                codes.append(Coding(code, system or None, text))
    return codes


async def _kept(lab: Lab) -> list[tuple[str, str, str]]:
    rows = await lab.pool.fetch(
        "SELECT control_id, reason_code, reason FROM rejections ORDER BY control_id"
    )
    return [(row["control_id"], row["reason_code"], row["reason"]) for row in rows]


async def _before_then_now(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, first: str, then: str
) -> tuple[str, str]:
    """``first`` as the version before the upgrade read it, ``then`` after it (the message
    row stored before took false in migration 0040)."""
    client = await lab.mllp()
    try:
        with monkeypatch.context() as before:
            before.setattr(hl7_observation, "codes_of", _codes_as_before)
            stored = await client.exchange(first)
        await lab.pool.execute("UPDATE messages SET digest_reads_second_alternates = false")
        again = await client.exchange(then)
    finally:
        await client.close()
    return stored, again


async def test_another_trial_code_in_cwe_10_is_ambiguous_as_in_cwe_4(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        cwe_4 = await client.exchange(
            oru("F267-A4", [_crp("1988-5^CRP^LN^777-3^PLT^LN")], order="ORD-A4")
        )
        cwe_10 = await client.exchange(
            oru("F267-A10", [_crp("1988-5^CRP^LN^CRP^CRP^L^^^^777-3^PLT^LN")], order="ORD-A10")
        )
    finally:
        await client.close()
    assert msa(cwe_4)[1] == "AE", cwe_4
    assert msa(cwe_10)[1] == "AE", cwe_10  # was AA: a CRP of 20 mg/L published
    assert msa(cwe_10)[3] == msa(cwe_4)[3]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    (a10, a4) = await _kept(lab)
    assert a4[1:] == ("ambiguous-analyte", a4[2]) and "'777-3'" in a4[2], a4
    assert a10[1:] == a4[1:], (a10, a4)  # the same reason, word for word


async def test_a_trial_code_in_cwe_10_alone_is_read(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        ack = await client.exchange(oru("F267-C", [_crp("CRPX^CRP^99LAB^^^^^^^1988-5^CRP^LN")]))
    finally:
        await client.close()
    assert msa(ack)[1] == "AA", (ack, await _kept(lab))
    row = await lab.pool.fetchrow("SELECT analyte, value, loinc FROM results")
    assert row is not None and tuple(row) == ("crp", 20.0, "1988-5")
    (raw,) = await lab.read(LAB_RESULTS, 1)
    payload = json.loads(raw)["payload"]
    assert (payload["analyte"], payload["value"]) == ("crp", 20.0), payload


async def test_a_message_stored_before_the_upgrade_and_resent_is_a_duplicate(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = oru("F267-UP", [_crp("1988-5^CRP^LN^^^^^^^CRP^C-reactive protein^99LAB")])
    # stored before migration 0040, resent once upgraded: its ACK was lost
    stored, resent = await _before_then_now(lab, monkeypatch, message, message)
    assert msa(stored)[1:3] == ["AA", "F267-UP"], stored
    assert msa(resent)[1:3] == ["AA", "F267-UP"], resent
    assert "duplicate" in msa(resent)[3], resent
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    assert await _kept(lab) == []
    assert len(await lab.events(LAB_RESULTS, 1)) == 1


async def test_a_second_alternate_added_since_the_upgrade_is_another_message(lab: Lab) -> None:
    """Stored since the upgrade without CWE-10, the same MSH-10 with a local code there is
    other content (the marker keeps the reading without it to messages stored before)."""
    client = await lab.mllp()
    try:
        stored = await client.exchange(oru("F267-NEW", [_crp("1988-5^CRP^LN")]))
        added = await client.exchange(oru("F267-NEW", [_crp("1988-5^CRP^LN^^^^^^^CRP^CRP^99LAB")]))
    finally:
        await client.close()
    assert msa(stored)[1] == "AA", stored
    assert msa(added)[1] == "AE" and "MSH-10" in msa(added)[3], added
    assert [k[:2] for k in await _kept(lab)] == [("F267-NEW", "reused-message-id")]


async def test_a_crp_only_by_its_cwe_10_stored_before_is_no_duplicate(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another test's result before the upgrade (nothing of it stored), a CRP now: its
    resend is refused as a reused id and kept, never dropped as a duplicate unseen."""
    message = oru(
        "F267-WAS",
        [
            f"NM|751-8^ANC^LN||2.5|10*9/L|||||F|||{TS}",
            _crp("CRPV^CRP Vorwert^99LAB^^^^^^^1988-5^^LN"),
        ],
    )
    stored, resent = await _before_then_now(lab, monkeypatch, message, message)
    assert msa(stored)[1] == "AA", stored
    assert msa(resent)[1] == "AE" and "MSH-10" in msa(resent)[3], resent
    assert [k[:2] for k in await _kept(lab)] == [("F267-WAS", "reused-message-id")]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1


async def test_a_rejection_kept_before_the_upgrade_replays(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept (an unknown sender) with the digest made without CWE-10: its copy, read now
    with it, replays; the CRP is stored."""
    message = oru(
        "F267-KEPT", [_crp("1988-5^CRP^LN^^^^^^^CRP^C-reactive protein^99LAB")], application="NEW"
    )
    client = await lab.mllp()
    try:
        with monkeypatch.context() as before:
            before.setattr(hl7_observation, "codes_of", _codes_as_before)
            refused = await client.exchange(message)
    finally:
        await client.close()
    assert msa(refused)[1] == "AR", refused
    rejection = await lab.pool.fetchval(
        "SELECT rejection_id FROM rejections WHERE control_id = 'F267-KEPT'"
    )
    async with lab.pool.acquire() as conn:
        await add_source(conn, "NEW", "HOSP")
    args = argparse.Namespace(
        command="replay", rejection_command=None, rejection_id=uuid.UUID(str(rejection)),
        dry_run=False,
    )  # fmt: skip
    assert await run_rejection_command(lab.settings, args) == 0
    row = await lab.pool.fetchrow("SELECT analyte, value, loinc FROM results")
    assert row is not None and tuple(row) == ("crp", 20.0, "1988-5")
