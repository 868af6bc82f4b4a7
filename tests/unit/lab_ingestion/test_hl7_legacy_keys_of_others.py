"""Legacy HL7 result keys (``legacy_keys``) are taken only for the patient's own chain of
the result's analyte (review 111): a legacy key whose head is now another analyte's, or
another patient's, is left alone, and the result keeps its own key, as before the upgrade;
a message whose only legacy key is an untracked test's keeps the fast path."""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters import hl7_observation
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.planning import needs_earlier_result
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.hl7_ingest import ingest_hl7
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase
from tests.unit.lab_ingestion.test_hl7_legacy_keys import (
    MSH,
    ORDER,
    PLT_CODE,
    _old_key_code,
    msg,
    obx,
    standing,
    stored_before_the_upgrade,
)

PID_B = "PID|1||MRN8^^^HOSP^MR"


def msg_b(control_id: str, *observations: str) -> str:
    return "\r".join([MSH.replace("ALT-1", control_id), PID_B, ORDER, *observations])


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase(enrolled={"h(MRN9)": "S-1", "h(MRN8)": "S-2"})


async def test_another_patients_final_is_not_put_under_the_old_key(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    """Patient A's neutrophils stored under ORD1|| before the upgrade. Patient B's first
    neutrophils under the same order number after it: its own key ORD1|751-8| is unused,
    so before 3463204 it was stored there. It must not join A's chain."""
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx()))
    b = await ingest_hl7(db, msg_b("B-1", obx(value="0.9")))
    assert b.accepted and b.results == 1, b
    rb = db.results[-1]
    assert rb.result_key == "ORD1|751-8|", rb.result_key
    assert rb.supersedes_result_id is None


async def test_another_patients_correction_does_not_touch_a_chain(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx()))
    await ingest_hl7(db, msg_b("B-1", obx(value="0.9", status="C")))
    assert standing(db) == [("ORD1||", Analyte.NEUTROPHILS, 0.4)]


async def test_another_patients_cancellation_does_not_withdraw(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx()))
    x = await ingest_hl7(db, msg_b("B-1", obx(value="", status="X")))
    assert x.accepted and x.not_obtained == 1  # as before the upgrade: nothing of B's
    assert standing(db) == [("ORD1||", Analyte.NEUTROPHILS, 0.4)]


def test_an_untracked_observation_alone_keeps_the_fast_path() -> None:
    """A CRP panel with a glucose coded only in the alternate triplet: the glucose is
    ignored, never stored, so it has no stored key to find."""
    message, _ = parse_oru(
        msg("ALT-1", obx("1988-5^CRP^LN", "5"), obx("^Glu^^2345-7^Glu^LN", "5.1", n=2))
    )
    assert not needs_earlier_result(message)


async def test_old_key_now_holding_another_analyte_is_not_taken(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    """Before the upgrade: neutrophils stored under ORD1||, withdrawn, then the platelets
    stored there. After it, the neutrophils' new final (own key unused) must not be put on
    the platelets' chain (withdrawn versions counted as "holding" the analyte)."""
    with monkeypatch.context() as m:
        m.setattr(hl7_observation, "key_code", _old_key_code)
        await ingest_hl7(db, msg("OLD-1", obx()))
        await ingest_hl7(db, msg("OLD-2", obx(value="", status="X")))
        c = await ingest_hl7(db, msg("OLD-3", obx(PLT_CODE, "250")))
    assert c.accepted and c.results == 1
    new = await ingest_hl7(db, msg("NEW-1", obx(value="0.6")))
    assert new.accepted and new.results == 1, new
    assert ("ORD1||", Analyte.PLATELETS, 250.0) in standing(db)
