"""A result stored before 7a953a8 under the key its OBX-3 identifier alone made (``ORD1||``
where the identifier was empty or ``""``, the code in the alternate triplet): after the
upgrade its key is ``ORD1|751-8|``, and its cancellation, correction and resend must still
find it under the key it is stored under (``legacy_keys``), or an X is answered "not
obtained" while the result stands, a C refused, and the final stored a second time. Keys
whose identifier is written never changed and carry no legacy key."""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters import hl7_observation
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.legacy_keys import legacy_key_of
from services.lab_ingestion.domain.model import Coding, RejectionCode
from services.lab_ingestion.domain.planning import needs_earlier_result
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.hl7_ingest import ingest_hl7
from tests.unit.lab_ingestion.hl7_samples import fake_hash
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|ALT-1|P|2.5.1"
PID = "PID|1||MRN9^^^HOSP^MR"
TS = "20261120081500+0100"
ORDER = f"OBR|1|PLC1|ORD1|LAB^Lab panel|||{TS}"
NEUT_CODE = "^Neut^^751-8^Neut^LN"
PLT_CODE = "^PLT^^777-3^PLT^LN"


def obx(code: str = NEUT_CODE, value: str = "0.4", status: str = "F", n: int = 1) -> str:
    return f"OBX|{n}|NM|{code}||{value}|10*9/L|||||{status}|||{TS}"


def msg(control_id: str, *observations: str, order: str = ORDER) -> str:
    return "\r".join([MSH.replace("ALT-1", control_id), PID, order, *observations])


def _old_key_code(sent: list[Coding]) -> str:  # before 7a953a8: OBX-3's identifier alone
    return sent[0].code if sent else ""


async def stored_before_the_upgrade(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase, text: str
) -> None:
    with monkeypatch.context() as m:
        m.setattr(hl7_observation, "key_code", _old_key_code)
        outcome = await ingest_hl7(db, text)
    assert outcome.accepted and outcome.results >= 1, outcome.reason


def standing(db: FakeDatabase) -> list[tuple[str, Analyte, float | None]]:
    superseded = {r.supersedes_result_id for r in db.results}
    return [
        (r.result_key, r.result.analyte, r.result.value)
        for r in db.results
        if r.result_id not in db.cancelled and r.result_id not in superseded and r.status in "FC"
    ]


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase(enrolled={"h(MRN9)": "S-1"})


@pytest.mark.parametrize("code", [NEUT_CODE, '""' + NEUT_CODE])
async def test_a_cancellation_withdraws_the_result_stored_under_its_old_key(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase, code: str
) -> None:
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx(code)))
    assert db.results[0].result_key == "ORD1||"
    refused = db.refused
    cancelled = await ingest_hl7(db, msg("ALT-2", obx(code, value="", status="X")))
    assert cancelled.accepted and cancelled.cancelled == 1, cancelled
    assert cancelled.not_obtained == 0
    assert standing(db) == []
    assert db.refused == refused  # the legacy key, read holding a row, is never assumed empty


@pytest.mark.parametrize("status", ["D", "W"])
async def test_a_deletion_withdraws_it_too(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase, status: str
) -> None:
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx()))
    deleted = await ingest_hl7(db, msg("ALT-2", obx(value="", status=status)))
    assert deleted.accepted and deleted.cancelled == 1, deleted
    assert standing(db) == []


async def test_a_correction_supersedes_it(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx()))
    corrected = await ingest_hl7(db, msg("ALT-2", obx(value="0.9", status="C")))
    assert corrected.accepted and corrected.results == 1, corrected.reason
    assert db.results[1].supersedes_result_id == db.results[0].result_id
    assert standing(db) == [("ORD1||", Analyte.NEUTROPHILS, 0.9)]
    # and its chain goes on there: the next correction finds the first one
    again = await ingest_hl7(db, msg("ALT-3", obx(value="1.1", status="C")))
    assert again.accepted and db.results[2].supersedes_result_id == db.results[1].result_id
    assert standing(db) == [("ORD1||", Analyte.NEUTROPHILS, 1.1)]


async def test_the_final_resent_under_a_new_id_is_a_duplicate(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx()))
    again = await ingest_hl7(db, msg("ALT-2", obx()))
    assert again.accepted and again.duplicate, again
    assert len(db.results) == 1


async def test_a_changed_final_is_refused_as_under_any_key(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx()))
    changed = await ingest_hl7(db, msg("ALT-2", obx(value="0.7")))
    assert not changed.accepted, changed
    assert standing(db) == [("ORD1||", Analyte.NEUTROPHILS, 0.4)]


async def test_the_other_result_of_the_order_keeps_its_own_key(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    """The neutrophils were stored under ORD1|| (the platelets beside them refused then):
    the platelets, first in the message, never take the neutrophils' legacy key; the
    neutrophils' correction does."""
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx()))
    both = await ingest_hl7(
        db, msg("ALT-2", obx(PLT_CODE, "250", n=1), obx(value="0.9", status="C", n=2))
    )
    assert both.accepted and both.results == 2, both.reason
    assert sorted(standing(db)) == [
        ("ORD1|777-3|", Analyte.PLATELETS, 250.0),
        ("ORD1||", Analyte.NEUTROPHILS, 0.9),
    ]


async def test_only_the_first_result_of_the_analyte_takes_the_legacy_key(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    """Two neutrophil results of one order without OBX-4, coded alike but for their
    alternate code's system: the first continues the stored chain, the second has its own
    key (a legacy chain holds one result)."""
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx()))
    other = "^Neut^^26499-4^Neut^LN"
    two = await ingest_hl7(db, msg("ALT-2", obx(value="", status="X"), obx(other, "0.5", n=2)))
    assert two.accepted, two.reason
    assert standing(db) == [("ORD1|26499-4|", Analyte.NEUTROPHILS, 0.5)]


async def test_a_result_of_another_analyte_under_the_old_key_is_not_taken(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx(PLT_CODE, "250")))
    new = await ingest_hl7(db, msg("ALT-2", obx()))
    assert new.accepted and new.results == 1, new.reason
    assert sorted(standing(db)) == [
        ("ORD1|751-8|", Analyte.NEUTROPHILS, 0.4),
        ("ORD1||", Analyte.PLATELETS, 250.0),
    ]


async def test_new_results_never_go_under_the_old_key(db: FakeDatabase) -> None:
    first = await ingest_hl7(db, msg("ALT-1", obx()))
    corrected = await ingest_hl7(db, msg("ALT-2", obx(value="0.9", status="C")))
    assert first.accepted and corrected.accepted, corrected.reason
    assert {r.result_key for r in db.results} == {"ORD1|751-8|"}
    assert db.results[1].supersedes_result_id == db.results[0].result_id


async def test_a_chain_under_the_new_key_is_kept_to(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    """Both keys hold a chain (the lab wrote OBX-3's identifier once since): the key's own
    chain is continued, the one under the old key left as it stands."""
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx()))
    written = await ingest_hl7(db, msg("ALT-2", obx("751-8^Neut^LN", "0.6")))
    assert written.accepted and written.results == 1, written.reason
    corrected = await ingest_hl7(db, msg("ALT-3", obx(value="0.9", status="C")))
    assert corrected.accepted, corrected.reason
    assert db.results[2].supersedes_result_id == db.results[1].result_id
    assert sorted(standing(db)) == [
        ("ORD1|751-8|", Analyte.NEUTROPHILS, 0.9),
        ("ORD1||", Analyte.NEUTROPHILS, 0.4),
    ]


async def test_an_x_under_neither_key_is_still_not_obtained(db: FakeDatabase) -> None:
    outcome = await ingest_hl7(db, msg("ALT-1", obx(value="", status="X")))
    assert outcome.accepted and outcome.not_obtained == 1 and not db.results, outcome


def test_only_a_result_whose_key_changed_carries_its_old_key_and_takes_the_careful_path() -> None:
    message, _ = parse_oru(
        msg("ALT-1", obx(), obx('""' + PLT_CODE, "250", n=2), obx("751-8^Neut^LN", n=3),
            obx("^Other^^99999^X^L", "1", n=4)),
    )  # fmt: skip
    got = [(o.result_key, o.legacy_key) for o in message.observations]
    assert got == [
        ("ORD1|751-8|", "ORD1||"),
        ("ORD1|777-3|", "ORD1||"),
        ("ORD1|751-8|", None),
        ("ORD1|99999|", "ORD1||"),
    ]
    assert needs_earlier_result(message)
    (written,) = parse_oru(msg("ALT-1", obx("751-8^Neut^LN")))[0].observations
    assert written.legacy_key is None


def test_without_an_order_number_the_old_key_is_the_patients_as_the_key_is() -> None:
    message, _ = parse_oru(msg("ALT-1", obx(), order=f"OBR|1||||||{TS}"), identify=fake_hash)
    (observation,) = message.observations
    whose = fake_hash("MRN9")[:16]
    assert observation.result_key == f"@2026-11-20T07:15:00+00:00|751-8||{whose}"
    assert legacy_key_of(observation) == f"@2026-11-20T07:15:00+00:00|||{whose}"


async def test_the_stored_message_resent_under_its_own_id_is_known_as_itself(
    monkeypatch: pytest.MonkeyPatch, db: FakeDatabase
) -> None:
    """Its digest was made with the old key: the resend is answered as a duplicate, not
    refused as a reused id; another message under that id still is."""
    await stored_before_the_upgrade(monkeypatch, db, msg("ALT-1", obx()))
    again = await ingest_hl7(db, msg("ALT-1", obx()))
    assert again.accepted and again.duplicate, again
    other = await ingest_hl7(db, msg("ALT-1", obx(value="0.7")))
    assert other.code is RejectionCode.REUSED_MESSAGE_ID, other
    assert len(db.results) == 1
