"""Review 221's panels without infrastructure: a FHIR Bundle of a CRP and other tests (the
trial follows none of them) sharing one accession number, untyped or typed ACSN, is the CRP's
message alone, whatever the panel's order, size and status; through the ingestor (fake
database) it is stored, resent and withdrawn as the CRP alone would be, never refused for its
other tests and never planned again for them (fixer 217 refused such panels; reverted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_bundle import ParsedBundle, parse_bundle
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestTransaction
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

RECEIVED = datetime(2026, 11, 20, 10, tzinfo=UTC)
LOINC = "http://loinc.org"
CRP = "1988-5"
OTHER_TESTS = ["2345-7", "2951-2", "6690-2", "789-8", "787-2"]  # glucose, sodium, WBC, RBC, MCV
STATUSES = ["final", "preliminary", "corrected", "amended", "cancelled", "entered-in-error"]
TYPINGS = [None, "ACSN"]  # untyped, or HL7 table 0203's accession id


def resource(
    accession: str, code: str = CRP, status: str = "final", typing: str | None = None
) -> dict[str, Any]:
    """The patient's Observation of ``code`` under ``accession``."""
    identifier: dict[str, Any] = {"system": "urn:lab", "value": accession}
    if typing is not None:
        identifier["type"] = {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": typing}
        ]}  # fmt: skip
    unit = "mg/L" if code == CRP else "mmol/L"
    return {
        "resourceType": "Observation", "identifier": [identifier], "status": status,
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN1"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 5.4, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
    }  # fmt: skip


def parsed(kind: str, resources: list[dict[str, Any]]) -> ParsedBundle:
    entries = [{"resource": r, "request": {"method": "POST", "url": "Observation"}}
               for r in resources]  # fmt: skip
    return parse_bundle({"resourceType": "Bundle", "type": kind, "entry": entries},
                        "LIS", "HOSP", lambda number: f"h({number})")  # fmt: skip


def panel(
    others: list[str], crp_at: int, accession: str = "ACC-1", **kw: Any
) -> list[dict[str, Any]]:
    """The CRP at ``crp_at`` among ``others``, each under ``accession``."""
    resources = [resource(accession, code, **kw) for code in others]
    resources.insert(crp_at, resource(accession, **kw))
    return resources


@given(
    st.lists(st.sampled_from(OTHER_TESTS), min_size=1, max_size=6),
    st.data(),
    st.sampled_from(STATUSES),
    st.sampled_from(TYPINGS),
    st.sampled_from(["transaction", "batch"]),
)
def test_a_panels_other_tests_are_ignored_beside_its_crp(
    others: list[str], data: st.DataObject, status: str, typing: str | None, kind: str
) -> None:
    """Whatever the order, size and status of the panel: one message, the CRP's, its other
    tests' entries ignored (never an error: a transaction is never refused for them)."""
    crp_at = data.draw(st.integers(0, len(others)))
    bundle = parsed(kind, panel(others, crp_at, status=status, typing=typing))
    assert [e.index for e in bundle.entries if e.message is not None] == [crp_at]
    (message,) = bundle.messages
    assert [[c.code for c in o.codes] for o in message.observations] == [[CRP]]
    others_entries = [e for e in bundle.entries if e.index != crp_at]
    assert all(e.ignored and e.message is None and e.error is None for e in others_entries)


def batch(resources: list[dict[str, Any]], at: datetime = RECEIVED) -> list[IngestLabMessage]:
    """A batch Bundle's commands as the HTTP route builds them."""
    bundle = parsed("batch", resources)
    return [IngestLabMessage(m, lambda: "", at, check_source=False, bundle=bundle.messages)
            for m in bundle.messages]  # fmt: skip


def transaction(resources: list[dict[str, Any]], at: datetime = RECEIVED) -> IngestTransaction:
    return IngestTransaction(parsed("transaction", resources).messages, lambda: "", at)


def stored(db: FakeDatabase) -> list[tuple[str, str, bool]]:
    """Every result: its key, status and whether withdrawn."""
    return [(r.result_key, r.status, r.cancelled_at is not None or r.result_id in db.cancelled)
            for r in db.results]  # fmt: skip


@pytest.mark.parametrize("typing", TYPINGS)
@pytest.mark.parametrize("crp_at", [0, 1])
async def test_a_new_panel_is_stored_and_its_resend_is_a_duplicate(
    crp_at: int, typing: str | None
) -> None:
    """A transaction stores the CRP (README: a panel's glucose never refuses the CRP sent
    with it); the same panel as a batch later is the CRP's duplicate; nothing rejected."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    resources = panel(["2345-7"], crp_at, typing=typing)
    (first,) = await ingest([transaction(resources)])
    assert first.accepted and first.results == 1, first
    (again,) = await ingest(batch(resources, RECEIVED + timedelta(minutes=1)))
    assert again.accepted and again.duplicate and again.results == 0, again
    assert stored(db) == [("urn:lab|ACC-1", "F", False)]
    assert [t for t, _ in db.events] == ["lab.results.v1"]


async def test_fresh_panels_in_a_batch_are_never_planned_again() -> None:
    """The patient known; one batch of 20 panels, each under an accession of its own: each
    CRP stored on the fast path (no read, no batch planned again), nothing rejected."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    await ingest(batch([resource("WARM")]))
    lookups, replans = db.lookups, db.replans
    panels = [panel(OTHER_TESTS[: n % 5 + 1], n % 2, f"ACC-{n}") for n in range(20)]
    outcomes = await ingest([c for resources in panels for c in batch(resources)])
    assert [(o.accepted, o.results) for o in outcomes] == [(True, 1)] * 20
    assert (db.lookups, db.replans) == (lookups, replans)
    assert len(db.results) == 21 and "lab.rejected.v1" not in [t for t, _ in db.events]


@pytest.mark.parametrize("order", ["crp-first", "glucose-first"])
@pytest.mark.parametrize("status", ["corrected", "entered-in-error"])
async def test_a_whole_panel_changed_in_one_transaction(order: str, status: str) -> None:
    """The panel stored; its correction or withdrawal sent whole: applied to the CRP."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    crp_at = 0 if order == "crp-first" else 1
    await ingest([transaction(panel(["2345-7"], crp_at))])
    later = RECEIVED + timedelta(hours=1)
    changed = panel(["2345-7"], crp_at, status=status)
    changed[crp_at]["issued"] = "2026-11-20T12:00:00+01:00"
    (outcome,) = await ingest([transaction(changed, later)])
    assert outcome.accepted, outcome.reason
    if status == "corrected":
        assert stored(db) == [("urn:lab|ACC-1", "F", False), ("urn:lab|ACC-1", "C", False)]
    else:
        assert outcome.cancelled == 1 and stored(db) == [("urn:lab|ACC-1", "F", True)]
