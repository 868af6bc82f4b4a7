"""Review 71: a FHIR transaction with a manual differential "not done" now loses its ANC.

What goes wrong: commit 2bace5d makes ``753-4`` (neutrophils, manual count) a trial result
on its own. A FHIR laboratory that posts a CBC as a transaction Bundle reports a manual
differential that was not performed as an Observation with ``status: cancelled`` ("the
measurement was not started or not completed", FHIR R4) or as ``final`` with a
``dataAbsentReason`` (``not-performed``). Yesterday that Observation was another test's,
ignored, and the automated ANC beside it was stored (checked against 57d78d9). Today it is
a trial result: a ``cancelled`` one that finds nothing is refused over FHIR
(``unknown-corrected-result``, "send the final result first"), one without a value
``missing-unit`` ("no unit given for neutrophils"), and "a transaction is stored whole or
not at all": the grade-4 automated ANC is refused with it, answered 422 with a reason
that names the ANC's analyte, not the manual Observation (change 7b9591f, which keeps such
results out, excludes FHIR).

What should happen: the ANC is stored; the manual count that was not performed stores
nothing (as yesterday), or at the least the transaction is not refused for it.

Suggested fix: a same-measurement code alone identifies a trial result only when it
carries a value (or a withdrawal of a result under it finds one); or left out as an X that
obtains nothing when the transaction holds another valued trial result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.lab_ingestion.service_layer.commands import IngestTransaction
from tests.unit.lab_ingestion.fhir_samples import parsed_bundle
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

AT = datetime(2026, 11, 20, 10, tzinfo=UTC)
ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def _observation(number: int, code: str, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:lab", "value": f"OBS-{number}"}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN4711"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        **more,
    }


ANC = _observation(
    1, "751-8",
    valueQuantity={"value": 0.3, "unit": "10*9/L", "system": "http://unitsofmeasure.org",
                   "code": "10*9/L"},
)  # fmt: skip


@pytest.mark.parametrize(
    "manual",
    [
        pytest.param(
            _observation(
                2,
                "753-4",
                dataAbsentReason={"coding": [{"system": ABSENT, "code": "not-performed"}]},
            ),
            id="final-not-performed",
        ),
    ],
)
async def test_a_cbc_transaction_stores_its_anc_beside_a_manual_count_not_done(
    manual: dict[str, Any],
) -> None:
    bundle = parsed_bundle("transaction", ANC, manual)
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    (outcome,) = await ingestor(db)([IngestTransaction(bundle.messages, lambda: "", AT)])
    stored = [r.result.value for r in db.results if r.result is not None]
    assert stored == [0.3], (
        f"the CBC transaction was refused whole ({outcome.code}: {outcome.reason!r}): the "
        "grade-4 ANC it carries is not stored"
    )


async def test_a_cancelled_manual_count_is_left_out_beside_the_anc() -> None:
    """A FHIR `cancelled` without a value finding nothing is a test cancelled before it was
    resulted (review 157): left out, as a final Observation with a dataAbsentReason (above)
    is; the ANC is stored. (Reviews 72, 73 refused it: it may be meant for a result kept
    under another token's name; that case is still refused, ``fhir_cancellations``.)"""
    cancelled = _observation(2, "753-4", status="cancelled")
    bundle = parsed_bundle("transaction", ANC, cancelled)
    db = FakeDatabase(enrolled={"h(MRN4711)": "S-1"})
    (outcome,) = await ingestor(db)([IngestTransaction(bundle.messages, lambda: "", AT)])
    assert outcome.accepted, (outcome.code, outcome.reason)
    assert [r.result.value for r in db.results if r.result is not None] == [0.3]
