"""Several CRP values of one sample (one subject, one collection time: two sub-ids of one
order, a re-run under a new filler order number, CRP and hs-CRP in one order) all stand in
the series: the one received later is the later point (review 274), never an order drawn by
their random result ids, on every read. PROTOCOL.md section 3 takes "the newest" CRP before
an assessment: with a tie, 9 mg/L and 80 mg/L of one sample flipped between response and
non-response. The result ids below are chosen so that their order is the reverse of arrival:
an order by id fails every time, not by chance."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import asyncpg
import pytest

from services.crp_monitor.adapters.repository import CrpSeriesRepository
from services.crp_monitor.bootstrap import definition
from services.crp_monitor.domain.model import current_series
from shared.contracts.envelope import Envelope, utc_now
from shared.contracts.topics import LAB_RESULTS, TRIAL_SUBJECTS
from shared.db.migrations import migrate_service
from tests.factories import crp_cancelled, crp_result, subject_enrolled
from tests.integration.lab_fixtures import migrate_before
from tests.integration.messaging_fixtures import record, wait_until
from tests.integration.test_crp_corrections_across_subjects import (  # noqa: F401 - pool: the fixture
    Monitor,
    _id,
    pool,
)
from tests.integration.test_crp_monitor_cancellations import _get, _token
from tests.integration.test_service_runtime import Running, crp_monitor  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def _ids_against_arrival(n: int) -> list[uuid.UUID]:
    """``n`` result ids, each sorting (as text and as uuid) before the one before it."""
    return sorted((uuid.uuid4() for _ in range(n)), reverse=True)


def _sample(subject_id: str, values: list[float], at: dt.datetime) -> list[Envelope]:
    """Values of one sample collected ``at``, in the order they are to arrive."""
    ids = _ids_against_arrival(len(values))
    return [
        crp_result(subject_id, value, result_id=result_id, collected_at=at)
        for value, result_id in zip(values, ids, strict=True)
    ]


async def _served(running: Running, subject_id: str, token: str) -> list[tuple[float, str]]:
    status, _, body = await _get(running, f"/v1/subjects/{subject_id}/crp", token)
    assert status == 200, body
    assert isinstance(body, dict)
    return [(point["crp_mg_l"], point["collected_at"]) for point in body["series"]]


async def test_values_of_one_sample_are_served_in_the_order_received(
    crp_monitor: Running,  # noqa: F811 - the fixture, imported
) -> None:
    await record(crp_monitor.producer_pool, TRIAL_SUBJECTS, [subject_enrolled("S-T")], commit=True)
    at = utc_now() - dt.timedelta(hours=2)
    # a first run and its re-run, published together (one batch as a rule)
    first, rerun = _sample("S-T", [80.0, 9.0], at)
    await record(crp_monitor.producer_pool, LAB_RESULTS, [first, rerun], commit=True)

    async def stored(n: int) -> bool:
        return await crp_monitor.crp_count("S-T") >= n

    await wait_until(lambda: stored(2))
    # later, in another batch: a third value of the sample, its id before both, and a value of
    # an earlier sample (received last, it is still the first point: collection time first)
    third = crp_result("S-T", 30.0, result_id=uuid.UUID(int=0), collected_at=at)
    earlier = crp_result(
        "S-T", 50.0, result_id=uuid.UUID(int=2**128 - 1), collected_at=at - dt.timedelta(days=1)
    )
    await record(crp_monitor.producer_pool, LAB_RESULTS, [third, earlier], commit=True)
    await wait_until(lambda: stored(4))

    token = await _token(crp_monitor)
    reads = [await _served(crp_monitor, "S-T", token) for _ in range(3)]
    assert [value for value, _ in reads[0]] == [50.0, 80.0, 9.0, 30.0]
    assert reads[1] == reads[0] and reads[2] == reads[0]  # the same on every read
    assert len({collected for _, collected in reads[0][1:]}) == 1  # one sample

    status, _, document = await _get(crp_monitor, "/openapi.json", token)
    assert status == 200 and isinstance(document, dict)
    answer = document["paths"]["/v1/subjects/{subject_id}/crp"]["get"]["responses"]["200"]
    series = answer["content"]["application/json"]["schema"]["properties"]["series"]
    assert "order received" in series["description"]


async def test_one_batch_stores_its_results_in_the_order_read(
    pool: asyncpg.Pool,  # noqa: F811 - the fixture, imported
) -> None:
    """The batch's one statement joins its rows with the kept cancellations: the numbers it
    gives them still follow the order the events were read, whatever the plan."""
    monitor = Monitor(pool)
    at = utc_now() - dt.timedelta(hours=2)
    sample = _sample("S-B", [float(value) for value in range(1, 41)], at)
    # cancellations read before their results (kept), of every fourth one
    withdrawn = sample[::4]
    await monitor.read(
        *(crp_cancelled("S-B", uuid.UUID(r.payload["result_id"])) for r in withdrawn)
    )
    await monitor.read(*sample)
    assert await monitor.dead_letters() == []
    standing = [r.payload["value"] for r in sample if r not in withdrawn]
    assert await monitor.values("S-B") == standing
    assert await monitor.values("S-B") == standing  # again: the same


async def test_a_batch_run_again_event_by_event_keeps_the_order_read(
    pool: asyncpg.Pool,  # noqa: F811 - the fixture, imported
) -> None:
    """A refused event in the batch: the batch is run again event by event, each flushed in
    turn; the values stored keep the order read."""
    monitor = Monitor(pool)
    at = utc_now() - dt.timedelta(hours=2)
    first, second, third = _sample("S-R", [80.0, 9.0, 30.0], at)
    foreign = crp_result("S-OTHER", 1.0)
    await monitor.read(foreign)
    # a correction under S-R of S-OTHER's result: refused (result-of-another-subject)
    refused = crp_result("S-R", 2.0, supersedes=_id(foreign))
    await monitor.read(first, refused, second, third)
    assert await monitor.dead_letters() == ["result-of-another-subject"]
    assert await monitor.values("S-R") == [80.0, 9.0, 30.0]


async def _insert_as_before(
    conn: asyncpg.Connection, value: float, at: dt.datetime, recorded: dt.datetime | None = None
) -> None:
    """A result stored as the version before 0006 stores one: no received_seq named (and
    ``recorded``, the start of the batch that stored it, where it is not now)."""
    result_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO crp_results (result_id, subject_id, value_mg_l, comparator,
                                    collected_at, status, source_event_id, recorded_at)
           VALUES ($1, 'S-M', $2, NULL, $3, 'final', $1, coalesce($4, now()))""",
        result_id,
        value,
        at,
        recorded,
    )


async def test_results_stored_before_migration_0006_are_numbered_and_older_writers_still_store(
    database: str, tmp_path: Path
) -> None:
    await migrate_before(definition, database, 6, tmp_path / "migrations")
    at = utc_now() - dt.timedelta(hours=2)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(f"SET search_path TO {definition.schema}, public")
        await _insert_as_before(conn, 80.0, at)
        await _insert_as_before(conn, 9.0, at)
        applied = await migrate_service(
            conn, definition.schema, definition.migrations, definition.shared_migrations
        )
        assert applied[0] == "service/0006_crp_received_order"
        # a version before, still running during a rolling upgrade, stores as it did
        await _insert_as_before(conn, 30.0, at)
        numbers = await conn.fetch("SELECT received_seq FROM crp_results ORDER BY received_seq")
        assert all(row["received_seq"] is not None for row in numbers) and len(numbers) == 3
        series = current_series(await CrpSeriesRepository(conn).for_subject("S-M"))
    finally:
        await conn.close()
    # the two stored before in the order received (here: as inserted), the later one last
    assert [m.value_mg_l for m in series] == [80.0, 9.0, 30.0]


async def test_results_stored_before_migration_0006_are_numbered_as_received_not_as_placed(
    database: str, tmp_path: Path
) -> None:
    """Review 277: 0006 numbered the rows stored before in the table's physical order, and a
    re-run stored later into space a cancellation had freed (here: written first, received
    later) was numbered first, the value received first served as the newest."""
    await migrate_before(definition, database, 6, tmp_path / "migrations")
    at = utc_now() - dt.timedelta(hours=2)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(f"SET search_path TO {definition.schema}, public")
        await _insert_as_before(conn, 9.0, at, recorded=utc_now() + dt.timedelta(seconds=5))
        await _insert_as_before(conn, 80.0, at)
        await migrate_service(
            conn, definition.schema, definition.migrations, definition.shared_migrations
        )
        await _insert_as_before(conn, 30.0, at)  # numbered after every row numbered by 0006
        series = current_series(await CrpSeriesRepository(conn).for_subject("S-M"))
    finally:
        await conn.close()
    assert [m.value_mg_l for m in series] == [80.0, 9.0, 30.0]
