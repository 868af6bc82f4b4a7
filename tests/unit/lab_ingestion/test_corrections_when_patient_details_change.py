"""A correction or resend finds its result when the patient's details changed in between.

An order number built from the visit number (`998877-1`) or the surname (`MEIER-1`) is fixed
when the test is ordered; the visit number, the name's spelling or PV1 itself may differ in
the correction. Masking such values in a message's ids with that message's own details (as
tried on 2026-12-04 and reverted) keyed the correction apart from its result: rejected
unknown-corrected-result, the wrong value left standing. Ids are keyed as written, but for
the hospital number."""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from tests.unit.lab_ingestion.hl7_samples import join, msh, seg
from tests.unit.lab_ingestion.test_batch_ingestor import AT, FakeDatabase, ingestor


def identify(identifier: str) -> str:  # the ingestor's fake keyed hash
    return f"h({identifier})"


def oru(
    control_id: str,
    status: str,
    value: str,
    order: str,
    *,
    pv1_19: str | None,
    pid5: str = "MEIER^ANNA",
    pid7: str = "19580214",
) -> IngestLabMessage:
    segments = [
        msh(app="LIS", facility="HOSP", control_id=control_id, extra={7: "20261120070000+0000"}),
        seg("PID", {3: "MRN1^^^HOSP^MR", 5: pid5, 7: pid7}),
    ]
    if pv1_19 is not None:
        segments.append(seg("PV1", {2: "I", 19: pv1_19}))
    segments += [
        seg("OBR", {1: "1", 2: order, 3: order, 4: "1988-5^CRP^LN", 7: "20261120060000+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: value, 6: "mg/L", 11: status,
                    14: "20261120060000+0000", 19: "20261120061500+0000"}),
    ]  # fmt: skip
    lab, _ = parse_oru(join(segments), identify=identify)
    return IngestLabMessage(lab, lambda: "", AT)


@pytest.mark.parametrize(
    ("original_visit", "correction_visit"),
    [
        ("998877", "998900"),  # emergency visit turned into an admission: a new visit number
        ("998877", None),  # the correction sent without PV1
    ],
)
async def test_a_correction_finds_its_result_when_the_visit_number_in_its_order_changed(
    original_visit: str, correction_visit: str | None
) -> None:
    """Order number built from the visit number at order time (``998877-1``), the form the
    masking was written for (``VISIT998877-1``)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    order = "998877-1"
    first = await ingest([oru("A1", "F", "12", order, pv1_19=original_visit)])
    second = await ingest([oru("A2", "C", "21", order, pv1_19=correction_visit)])
    assert [o.code for o in first] == [None]
    assert [o.code for o in second] == [None], second[0].reason
    final, corrected = db.results
    assert corrected.supersedes_result_id == final.result_id


async def test_a_correction_finds_its_result_after_the_patients_name_was_corrected() -> None:
    """Order number built from the surname at order time (``MEIER-1``, as ``ROE-1``); the
    surname corrected in registration (MEIER -> MEYER) before the result's correction."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    first = await ingest([oru("B1", "F", "12", "MEIER-1", pv1_19=None, pid5="MEIER^ANNA")])
    second = await ingest([oru("B2", "C", "21", "MEIER-1", pv1_19=None, pid5="MEYER^ANNA")])
    assert [o.code for o in first] == [None]
    assert [o.code for o in second] == [None], second[0].reason
    final, corrected = db.results
    assert corrected.supersedes_result_id == final.result_id


async def test_a_resend_after_the_visit_number_changed_is_still_a_duplicate() -> None:
    """The LIS sends the same message again (same MSH-10, same results) built from the
    patient's current visit: a duplicate, as it was before the masking (only the visit
    number in PV1 changed, and the order number was written from the old one)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    first = await ingest([oru("C1", "F", "12", "998877-1", pv1_19="998877")])
    again = await ingest([oru("C1", "F", "12", "998877-1", pv1_19="998900")])
    assert [o.code for o in first] == [None]
    assert [o.code for o in again] == [None], again[0].reason
    assert again[0].duplicate and len(db.results) == 1
