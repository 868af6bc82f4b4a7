"""Over the real MLLP socket (PostgreSQL, broker) and ``cachexia replay`` (fixer 271,
review 269): reading OBX-3's second alternate coding (CWE-10 to 12, fixer 267) must not
change what a result stored, or a rejection kept, before the upgrade is, nor let its text
take a refusal away.

- A result stored as ``76485-2^CRP^LN^^^^^^^1988-5^^LN`` (published under 76485-2) and
  restated unchanged under a new MSH-10 was refused ``result-of-another-sample``: CWE-10's
  main-table code was taken to name the analyte. CWE-1 to 6 name it whenever they name one.
- A rejection kept ``unknown-analyte`` for a CRP coded in CWE-10 alone did not replay.
- A local CRP code whose CWE-11 text is another name (``CRP Notfall``) beside a platelet
  count was answered AA, the CRP left out unseen (it was refused ``unknown-analyte``).
- A mapped local code beside its LOINC code in CWE-10, stored before and resent under its
  MSH-10, was refused ``reused-message-id`` instead of being a duplicate.

The old version is played by reading OBX-3's first two triplets only."""

from __future__ import annotations

import argparse
import uuid

import pytest

from cachexia.rejections import run_rejection_command
from services.lab_ingestion.adapters import hl7_observation
from tests.integration.lab_fixtures import TS, msa, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_local_codes import map_code, until_live
from tests.integration.test_lab_second_alternate_codes import (
    _before_then_now,
    _codes_as_before,
    _crp,
    _kept,
)

pytestmark = pytest.mark.integration


async def test_a_final_restated_under_a_new_id_after_the_upgrade_is_the_same_result(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    obx3 = "76485-2^CRP^LN^^^^^^^1988-5^^LN"
    stored, again = await _before_then_now(
        lab, monkeypatch, oru("F271-A1", [_crp(obx3)]), oru("F271-A2", [_crp(obx3)])
    )
    assert msa(stored)[1] == "AA", stored
    assert msa(again)[1] == "AA", (again, await _kept(lab))  # was result-of-another-sample
    assert await _kept(lab) == []
    rows = await lab.pool.fetch("SELECT analyte, loinc, value FROM results")
    assert [tuple(r) for r in rows] == [("crp", "76485-2", 20.0)]


async def test_a_crp_coded_in_cwe_10_alone_kept_before_the_upgrade_replays(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused ``unknown-analyte`` then (another test's by CWE-1 to 6, its name CRP's): its
    copy, read now, is a CRP, and the replay publishes it."""
    message = oru("F271-K", [_crp("CRPX^CRP^99LAB^^^^^^^1988-5^CRP^LN")], order="ORD-K")
    client = await lab.mllp()
    try:
        with monkeypatch.context() as before:
            before.setattr(hl7_observation, "codes_of", _codes_as_before)
            refused = await client.exchange(message)
    finally:
        await client.close()
    assert msa(refused)[1] == "AE", refused
    assert [k[:2] for k in await _kept(lab)] == [("F271-K", "unknown-analyte")]
    rejection = await lab.pool.fetchval(
        "SELECT rejection_id FROM rejections WHERE control_id = 'F271-K'"
    )
    args = argparse.Namespace(
        command="replay", rejection_command=None, rejection_id=uuid.UUID(str(rejection)),
        dry_run=False,
    )  # fmt: skip
    assert await run_rejection_command(lab.settings, args) == 0  # was 1: "does not read as"
    row = await lab.pool.fetchrow("SELECT analyte, value, loinc FROM results")
    assert row is not None and tuple(row) == ("crp", 20.0, "1988-5")


async def test_a_second_alternate_text_never_takes_a_crp_refusal_away(lab: Lab) -> None:
    """CWE-2 names a CRP under a code the trial does not list (review 155): refused, though
    CWE-11 (the hospital system's display) says something else; the platelet count beside
    it is not stored either."""
    message = oru(
        "F271-N",
        [
            f"NM|777-3^PLT^LN||250|10*9/L|||||F|||{TS}",
            _crp("CRPX^CRP^99LAB^^^^^^^K123^CRP Notfall^99KIS"),
        ],
        order="ORD-N",
    )
    client = await lab.mllp()
    try:
        ack = await client.exchange(message)
    finally:
        await client.close()
    assert msa(ack)[1] == "AE", ack  # was AA, the CRP of 20 mg/L left out unseen
    assert [k[:2] for k in await _kept(lab)] == [("F271-N", "unknown-analyte")]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0


async def test_a_mapped_code_beside_its_loinc_in_cwe_10_resent_across_the_upgrade(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``CRP`` (system L) mapped to 1988-5: stored before the upgrade as a CRP through the
    mapping, its resend under the same MSH-10 (a lost ACK) is a duplicate."""
    await map_code(lab, "L", "CRP", "1988-5")
    await until_live(lab)
    message = oru("F271-M", [_crp("CRP^C-reactive protein^L^^^^^^^1988-5^CRP^LN")], order="M")
    before = await lab.pool.fetchval("SELECT count(*) FROM results")
    stored, again = await _before_then_now(lab, monkeypatch, message, message)
    assert msa(stored)[1] == "AA", stored
    assert msa(again)[1] == "AA" and "duplicate" in msa(again)[3], again  # was AE
    assert "F271-M" not in [k[0] for k in await _kept(lab)]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == before + 1
