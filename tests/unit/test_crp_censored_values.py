"""A censored CRP (the lab reported a limit, "<5 mg/L") is kept as one, never as its bare
number: the handler takes the payload's comparator, the write sends it as part of the
result's content (NULL for a measured value), the read gives it back and the series
(`GET /v1/subjects/{id}/crp`) serves it beside the value, as its OpenAPI document says.

Whether a result read again is the same one (a duplicate) or other content under its id
(reused-result-id) is decided by the write's SQL on what it is sent: here, what it is sent
and what the unit of work makes of its report; the SQL itself on PostgreSQL in
tests/integration/test_crp_censored_values.py."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from datetime import UTC, datetime
from itertools import permutations
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import pytest
from hypothesis import given

from services.crp_monitor.adapters.repository import CrpSeriesRepository
from services.crp_monitor.adapters.unit_of_work import CrpMonitorUnitOfWork
from services.crp_monitor.domain.model import CrpMeasurement, current_series
from services.crp_monitor.entrypoints.http import OPENAPI_PATHS
from services.crp_monitor.service_layer.handlers import record_lab_result
from services.crp_monitor.service_layer.queries import crp_series
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events.lab import Comparator, LabResultRecorded
from shared.messaging.handling import PoisonMessage
from shared.subject_access import EVERY_SITE
from tests.factories import crp_result
from tests.unit.test_crp_corrections_of_another_subject import FakeConnection, FakePool
from tests.unit.test_crp_domain import histories, measurement

AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
COMPARATORS = [*Comparator, None]
# the statement's arguments: $4 is the comparator column (after result, subject and value)
RESULT_IDS, VALUES, COMPARATOR_ARGS = 0, 2, 3


def _name(comparator: Comparator | None) -> str:
    return "measured" if comparator is None else comparator.value


class FakeCrp:
    """Records what the handler adds."""

    def __init__(self) -> None:
        self.added: list[tuple[CrpMeasurement, uuid.UUID]] = []

    async def add(self, measurement: CrpMeasurement, source_event_id: uuid.UUID) -> None:
        self.added.append((measurement, source_event_id))


class FakeUow:
    def __init__(self) -> None:
        self.crp = FakeCrp()


def _as_consumed(envelope: Envelope) -> tuple[Envelope, LabResultRecorded]:
    """The envelope as the consumer reads it off the wire, and its payload."""
    read = Envelope.from_bytes(envelope.to_bytes())
    return read, LabResultRecorded.model_validate(read.payload)


def _republished(envelope: Envelope, **changes: object) -> Envelope:
    """The same result under a new event id, with these payload fields changed."""
    payload = LabResultRecorded.model_validate({**envelope.payload, **changes})
    return make_envelope(payload, producer="lab-ingestion", subject_id=envelope.subject_id)


@pytest.mark.parametrize("comparator", COMPARATORS, ids=_name)
async def test_the_handler_keeps_the_payloads_comparator_and_none_for_a_measured_value(
    comparator: Comparator | None,
) -> None:
    uow = FakeUow()
    envelope = crp_result("S-1", 5.0, comparator=comparator)
    await record_lab_result(uow, *_as_consumed(envelope))
    [(measurement, event_id)] = uow.crp.added
    assert (measurement.value_mg_l, measurement.comparator) == (5.0, comparator)
    assert event_id == envelope.event_id


def _measurement(comparator: Comparator | None) -> CrpMeasurement:
    return CrpMeasurement(uuid.uuid4(), "S-1", 5.0, AT, "final", comparator=comparator)


async def test_the_write_sends_each_results_comparator_and_null_for_a_measured_one() -> None:
    conn = FakeConnection()
    crp = CrpSeriesRepository(cast(asyncpg.Connection, conn))
    for comparator in COMPARATORS:
        await crp.add(_measurement(comparator), uuid.uuid4())
    assert await crp.flush() == []
    [args] = conn.calls
    assert args[VALUES] == [5.0] * len(COMPARATORS)
    assert args[COMPARATOR_ARGS] == ["<", "<=", ">", ">=", None]


def _stored_row(comparator: str | None) -> dict[str, Any]:
    return {
        "result_id": uuid.uuid4(), "subject_id": "S-1", "value_mg_l": 5.0,
        "comparator": comparator, "collected_at": AT, "status": "final",
        "supersedes_result_id": None, "cancelled": False, "corrects_another_subject": False,
    }  # fmt: skip


async def test_a_stored_comparator_is_read_back_as_the_contracts_and_null_as_measured() -> None:
    conn = FakeConnection([_stored_row(c) for c in ("<", "<=", ">", ">=", None)])
    series = await CrpSeriesRepository(cast(asyncpg.Connection, conn)).for_subject("S-1")
    assert [m.comparator for m in series] == COMPARATORS
    assert all(isinstance(m.comparator, Comparator) for m in series[:4])


async def _write(
    answer: list[dict[str, Any]], *envelopes: Envelope
) -> tuple[PoisonMessage | None, tuple[Any, ...]]:
    """The events handled in one unit of work whose write is answered with ``answer`` (what
    the statement reports); the poison it raised, and what the statement was sent."""
    conn = FakeConnection(answer)
    uow = CrpMonitorUnitOfWork(cast(asyncpg.Pool, FakePool(conn)), "crp-monitor")
    poison = None
    async with uow:
        for envelope in envelopes:
            await record_lab_result(uow, *_as_consumed(envelope))
        try:
            await uow.flush()
        except PoisonMessage as raised:  # the batch processor's savepoint rolls it back
            poison = raised
        await uow.commit()
    return poison, conn.calls[0]


@pytest.mark.parametrize("comparator", list(Comparator), ids=_name)
async def test_a_censored_result_read_again_is_sent_as_the_same_content(
    comparator: Comparator,
) -> None:
    """Redelivered, or re-published under a new event id: the same value and comparator, so
    the statement takes it as a duplicate (it reports nothing) and nothing is refused."""
    result = crp_result("S-1", 5.0, comparator=comparator)
    poison, sent = await _write([], result, result, _republished(result))
    assert poison is None
    assert len(set(sent[RESULT_IDS])) == 1
    assert sent[VALUES] == [5.0] * 3 and sent[COMPARATOR_ARGS] == [comparator.value] * 3


@pytest.mark.parametrize(("first", "then"), list(permutations(COMPARATORS, 2)), ids=_name)
async def test_the_same_result_id_with_another_comparator_is_refused_as_reused(
    first: Comparator | None, then: Comparator | None
) -> None:
    """A 5 then <5 (or <5 then <=5, >5, 5) under one result_id: other content, which the
    statement reports as reused, and the unit of work refuses like any other content change
    under a stored id."""
    result = crp_result("S-1", 5.0, comparator=first)
    reused = _republished(result, comparator=then)
    answer = [{
        "kind": "reused", "result_id": uuid.UUID(result.payload["result_id"]),
        "subject_id": "S-1", "source_event_id": reused.event_id, "applied": None,
        "corrected_result_id": None, "corrected_subject_id": None,
    }]  # fmt: skip
    poison, sent = await _write(answer, result, reused)
    assert poison is not None and poison.reason_code == "reused-result-id"
    assert len(set(sent[RESULT_IDS])) == 1 and sent[VALUES] == [5.0, 5.0]
    assert sent[COMPARATOR_ARGS] == [first and first.value, then and then.value]


class FakeRead:
    """The read side's unit of work (nothing to commit): an enrolled subject, never
    withdrawn, and its results."""

    def __init__(self, measurements: list[CrpMeasurement]) -> None:
        self.measurements = measurements
        self.subjects = self
        self.crp = self

    async def enrolment(self, subject_id: str) -> SimpleNamespace:
        return SimpleNamespace(withdrawn_at=None, site_id="CH-01")

    async def for_subject(self, subject_id: str) -> list[CrpMeasurement]:
        return self.measurements


async def _served(measurements: list[CrpMeasurement]) -> list[dict[str, Any]]:
    body = await crp_series(lambda: nullcontext(FakeRead(measurements)), "S-0001", EVERY_SITE)
    assert body is not None
    series: list[dict[str, Any]] = body["series"]
    return series


async def test_the_series_shows_each_values_comparator_beside_it() -> None:
    censored = measurement(0, 5.0, comparator=Comparator.BELOW)
    measured = measurement(24, 5.0)
    above = measurement(48, 200.0, comparator=Comparator.AT_LEAST)
    served = await _served([above, measured, censored])
    assert [(p["crp_mg_l"], p["comparator"]) for p in served] == [
        (5.0, "<"), (5.0, None), (200.0, ">="),
    ]  # fmt: skip


SERIES_SCHEMA = OPENAPI_PATHS["/v1/subjects/{subject_id}/crp"]["get"]["responses"]["200"][
    "content"
]["application/json"]["schema"]
POINT_SCHEMA = SERIES_SCHEMA["properties"]["series"]["items"]


@given(histories())
async def test_every_value_served_keeps_its_comparator_and_is_documented(
    items: list[CrpMeasurement],
) -> None:
    """Whatever the history (corrections, cancellations, censored values), each value that
    stands is served with its own comparator, never as a bare number, in the fields the
    OpenAPI document describes."""
    served = await _served(items)
    assert [(p["result_id"], p["crp_mg_l"], p["comparator"]) for p in served] == [
        (str(m.result_id), m.value_mg_l, None if m.comparator is None else m.comparator.value)
        for m in current_series(items)
    ]
    for point in served:
        assert set(point) == set(POINT_SCHEMA["properties"]) == set(POINT_SCHEMA["required"])
        assert point["comparator"] in POINT_SCHEMA["properties"]["comparator"]["enum"]


def test_the_openapi_document_says_what_a_comparator_means() -> None:
    comparator = POINT_SCHEMA["properties"]["comparator"]
    assert comparator["enum"] == ["<", "<=", ">", ">=", None]
    assert "limit" in comparator["description"] and "measured" in comparator["description"]
    assert "limit" in POINT_SCHEMA["properties"]["crp_mg_l"]["description"]
