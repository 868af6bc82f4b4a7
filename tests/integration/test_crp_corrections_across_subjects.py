"""A CRP correction naming another subject's result, on real PostgreSQL (no broker): another
patient's value never enters a subject's series, whatever the order and batching.

Read after its result, the correction is dead-lettered (result-of-another-subject), like such
a cancellation. Read before it, it was stored not knowing whose result it names: once that
result arrives under another subject, the correction stands in neither series and is
reported once. A result under the id of another subject's stored result, one under the id of
its subject's stored result with other content, and a correction naming itself, are
dead-lettered too, never dropped unseen; the subject's own result read again is a duplicate,
cancelled or not."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from services.crp_monitor.adapters.unit_of_work import CrpMonitorUnitOfWork
from services.crp_monitor.bootstrap import crp_series_query, definition
from services.crp_monitor.domain.model import CancellationNoted, CorrectionOfAnotherSubjectFound
from services.crp_monitor.service_layer.handlers import HANDLERS
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events.lab import LabResultRecorded
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.processing import BatchProcessor
from shared.metrics import ConsumerMetrics
from shared.subject_access import EVERY_SITE
from tests.factories import crp_cancelled, crp_result
from tests.integration.lab_fixtures import migrated_pool

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_pool(definition, database, "test-crp-corrections")
    yield pool
    await pool.close()


class Monitor:
    """crp-monitor's batch processor on the real unit of work; what it reported."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.reported: list[CorrectionOfAnotherSubjectFound] = []
        self.cancellations: list[CancellationNoted] = []
        self._offset = 0
        self.processor = BatchProcessor(
            consumer="crp-monitor",
            uow_factory=lambda: CrpMonitorUnitOfWork(
                pool,
                "crp-monitor",
                cancellations_committed=self.cancellations.extend,
                corrections_committed=self._report,
            ),
            handlers=HANDLERS,
            metrics=ConsumerMetrics(CollectorRegistry(), "crp-monitor"),
        )

    def _report(self, noted: Sequence[CorrectionOfAnotherSubjectFound]) -> None:
        self.reported.extend(noted)

    async def read(self, *envelopes: Envelope) -> None:
        """One batch of these events, in this order."""
        messages = []
        for envelope in envelopes:
            assert envelope.subject_id is not None
            self._offset += 1
            messages.append(ConsumedMessage(
                "lab.results.v1", 0, self._offset, envelope.subject_id.encode(),
                envelope.to_bytes(),
            ))  # fmt: skip
        await self.processor.process(messages)

    async def values(self, subject_id: str) -> list[float]:
        body = await crp_series_query(self.pool)(subject_id, EVERY_SITE)
        return [] if body is None else [point["crp_mg_l"] for point in body["series"]]

    async def dead_letters(self) -> list[str]:
        rows = await self.pool.fetch('SELECT reason_code FROM dead_letters ORDER BY "offset"')
        return [row["reason_code"] for row in rows]


def _id(envelope: Envelope) -> uuid.UUID:
    return uuid.UUID(envelope.payload["result_id"])


def _republished(envelope: Envelope, subject_id: str, **changes: object) -> Envelope:
    """The result under a new event id, for ``subject_id``, with these payload fields changed:
    what a producer re-publishing it (or minting a clashing result id) sends."""
    payload = LabResultRecorded.model_validate({**envelope.payload, **changes})
    return make_envelope(payload, producer="lab-ingestion", subject_id=subject_id)


@pytest.mark.parametrize("same_batch", [False, True])
async def test_a_correction_read_after_another_subjects_result_is_dead_lettered(
    pool: asyncpg.Pool, same_batch: bool
) -> None:
    monitor = Monitor(pool)
    original = crp_result("S-A", 40.0)
    correction = crp_result("S-B", 4.0, supersedes=_id(original))
    own = crp_result("S-B", 7.0)  # the batch's other events are applied
    if same_batch:
        await monitor.read(original, correction, own)
    else:
        await monitor.read(original)
        await monitor.read(correction, own)
    assert await monitor.values("S-A") == [40.0]
    assert await monitor.values("S-B") == [7.0]
    assert await monitor.dead_letters() == ["result-of-another-subject"]
    stored = await pool.fetchval("SELECT 1 FROM crp_results WHERE result_id = $1", _id(correction))
    assert stored is None and monitor.reported == []


@pytest.mark.parametrize("same_batch", [False, True])
async def test_a_correction_read_before_another_subjects_result_stands_in_neither_series(
    pool: asyncpg.Pool, same_batch: bool
) -> None:
    monitor = Monitor(pool)
    original = crp_result("S-A", 40.0)
    correction = crp_result("S-B", 4.0, supersedes=_id(original))
    if same_batch:
        await monitor.read(correction, original)
    else:
        await monitor.read(correction)
        assert await monitor.values("S-B") == [4.0]  # whose result it names is not known yet
        await monitor.read(original)
    assert await monitor.values("S-A") == [40.0]
    assert await monitor.values("S-B") == []
    assert await monitor.dead_letters() == []
    assert monitor.reported == [
        CorrectionOfAnotherSubjectFound(
            _id(correction), "S-B", _id(original), "S-A", correction.event_id
        )
    ]
    await monitor.read(crp_result("S-A", 41.0))  # a later result reports nothing again
    assert len(monitor.reported) == 1


@pytest.mark.parametrize("order", ["original-first", "correction-first"])
async def test_a_correction_of_the_subjects_own_result_still_replaces_it(
    pool: asyncpg.Pool, order: str
) -> None:
    monitor = Monitor(pool)
    original = crp_result("S-A", 40.0)
    correction = crp_result("S-A", 4.0, supersedes=_id(original))
    first, second = (original, correction) if order == "original-first" else (correction, original)
    await monitor.read(first)
    await monitor.read(second)
    await monitor.read(first, second)  # redelivered copies change nothing
    assert await monitor.values("S-A") == [4.0]
    assert await monitor.dead_letters() == [] and monitor.reported == []


@pytest.mark.parametrize("batches", ["one-batch", "a-batch-each"])
async def test_a_correction_of_a_refused_correction_is_refused_too(
    pool: asyncpg.Pool, batches: str
) -> None:
    """C1 (under S-B) corrects S-A's result and is refused; C2 corrects C1 under S-B. C2
    names a result stored nowhere, and once stood in S-B's series: S-A's patient's value,
    corrected. It is refused too, and so is C3 correcting C2; a cancellation of C1 withdraws
    nothing."""
    monitor = Monitor(pool)
    original = crp_result("S-A", 40.0)
    c1 = crp_result("S-B", 4.0, supersedes=_id(original))
    c2 = crp_result("S-B", 5.0, supersedes=_id(c1))
    c3 = crp_result("S-B", 6.0, supersedes=_id(c2))
    own = crp_result("S-B", 7.0)
    await monitor.read(original)
    if batches == "one-batch":
        await monitor.read(c1, c2, own, c3)
    else:
        for envelope in (c1, c2, own, c3):
            await monitor.read(envelope)
    assert await monitor.values("S-A") == [40.0]
    assert await monitor.values("S-B") == [7.0]
    assert await monitor.dead_letters() == ["result-of-another-subject"] * 3
    refused = await pool.fetch("SELECT result_id FROM crp_refused_results")
    assert {r["result_id"] for r in refused} == {_id(c1), _id(c2), _id(c3)}

    await monitor.read(crp_cancelled("S-B", _id(c1)))
    assert await pool.fetchval("SELECT count(*) FROM crp_pending_cancellations") == 0
    assert await monitor.values("S-B") == [7.0]


@pytest.mark.parametrize("batches", ["a-batch-each", "one-batch"])
async def test_a_correction_of_a_refused_correction_read_before_it_stands_nowhere(
    pool: asyncpg.Pool, batches: str
) -> None:
    """C2 (under S-B) corrects C1 and is read first (a topic re-published, a replay): stored
    not knowing whose value it carries, it stands in no series once C1 is refused."""
    monitor = Monitor(pool)
    original = crp_result("S-A", 40.0)
    c1 = crp_result("S-B", 4.0, supersedes=_id(original))
    c2 = crp_result("S-B", 5.0, supersedes=_id(c1))
    own = crp_result("S-B", 7.0)
    if batches == "one-batch":
        await monitor.read(original, c2, c1, own)
    else:
        for envelope in (original, c2, c1, own):
            await monitor.read(envelope)
    assert await monitor.dead_letters() == ["result-of-another-subject"]  # C1
    assert await monitor.values("S-A") == [40.0]
    assert await monitor.values("S-B") == [7.0]


async def test_a_cancellation_kept_for_a_correction_then_refused_waits_no_longer(
    pool: asyncpg.Pool,
) -> None:
    monitor = Monitor(pool)
    original = crp_result("S-A", 40.0)
    c1 = crp_result("S-B", 4.0, supersedes=_id(original))
    await monitor.read(original)
    await monitor.read(crp_cancelled("S-B", _id(c1)))  # kept: its result is not stored yet
    assert await pool.fetchval("SELECT count(*) FROM crp_pending_cancellations") == 1
    await monitor.read(c1)
    assert await monitor.dead_letters() == ["result-of-another-subject"]
    assert await pool.fetchval("SELECT count(*) FROM crp_pending_cancellations") == 0
    assert [n.outcome.value for n in monitor.cancellations] == ["pending", "refused-result"]


async def test_a_correction_naming_itself_is_dead_lettered_not_hidden(pool: asyncpg.Pool) -> None:
    """Stored, it superseded itself and stood in no series: its value gone, nothing said."""
    monitor = Monitor(pool)
    result = crp_result("S-A", 12.0)
    itself = _republished(result, "S-A", supersedes_result_id=_id(result), status="corrected")
    own = crp_result("S-A", 7.0)
    await monitor.read(itself, own)
    assert await monitor.dead_letters() == ["supersedes-itself"]
    assert await monitor.values("S-A") == [7.0]
    stored = await pool.fetchval("SELECT 1 FROM crp_results WHERE result_id = $1", _id(result))
    assert stored is None


@pytest.mark.parametrize("same_batch", [False, True])
async def test_a_result_under_another_subjects_result_id_is_dead_lettered_not_dropped(
    pool: asyncpg.Pool, same_batch: bool
) -> None:
    """S-B's result carries the id of S-A's (a producer re-using ids): ON CONFLICT once
    dropped it unseen, marked applied. The one stored first stands; the other is refused like
    a correction naming another subject's result, and its id is not kept as refused: S-A's
    own correction of its result still replaces it."""
    monitor = Monitor(pool)
    original = crp_result("S-A", 40.0)
    clash = _republished(original, "S-B", value=9.0, original_value="9.0")
    own = crp_result("S-B", 7.0)  # the batch's other events are applied
    if same_batch:
        await monitor.read(original, clash, own)
    else:
        await monitor.read(original)
        await monitor.read(clash, own)
    assert await monitor.values("S-A") == [40.0]
    assert await monitor.values("S-B") == [7.0]
    assert await monitor.dead_letters() == ["result-of-another-subject"]
    assert await pool.fetchval("SELECT count(*) FROM crp_refused_results") == 0

    await monitor.read(crp_result("S-A", 4.0, supersedes=_id(original)))
    assert await monitor.values("S-A") == [4.0]
    assert await monitor.dead_letters() == ["result-of-another-subject"]


@pytest.mark.parametrize("same_batch", [False, True])
async def test_a_correction_under_another_subjects_result_id_leaves_no_refused_id_behind(
    pool: asyncpg.Pool, same_batch: bool
) -> None:
    """S-B's event carries the id of S-A's result R and corrects S-A's Q: refused, and R is not
    kept as refused, which would hide S-A's own corrections of R from its series."""
    monitor = Monitor(pool)
    first, original = crp_result("S-A", 30.0), crp_result("S-A", 40.0)
    clash = _republished(original, "S-B", supersedes_result_id=_id(first), status="corrected")
    if same_batch:
        await monitor.read(first, original, clash)
    else:
        await monitor.read(first, original)
        await monitor.read(clash)
    assert await monitor.dead_letters() == ["result-of-another-subject"]
    assert await pool.fetchval("SELECT count(*) FROM crp_refused_results") == 0
    await monitor.read(crp_result("S-A", 4.0, supersedes=_id(original)))
    assert sorted(await monitor.values("S-A")) == [4.0, 30.0]


async def test_of_two_subjects_results_under_one_id_the_first_read_stands(
    pool: asyncpg.Pool,
) -> None:
    """Which subject the id really belongs to cannot be told: the one stored stands (first
    come), the later one is dead-lettered, whichever subject it is."""
    monitor = Monitor(pool)
    original = crp_result("S-A", 40.0)
    stray = _republished(original, "S-B", value=9.0, original_value="9.0")
    await monitor.read(stray)
    await monitor.read(original)
    assert await monitor.values("S-B") == [9.0]
    assert await monitor.values("S-A") == []
    assert await monitor.dead_letters() == ["result-of-another-subject"]


@pytest.mark.parametrize("same_batch", [False, True])
async def test_the_subjects_own_result_read_again_is_a_harmless_duplicate(
    pool: asyncpg.Pool, same_batch: bool
) -> None:
    """The same event redelivered (inbox), or the same result re-published under a new event
    id (a broker restart): nothing dead-lettered, the value stands once."""
    monitor = Monitor(pool)
    result = crp_result("S-A", 40.0)
    republished = _republished(result, "S-A")
    # the same instant in another offset, the same value written otherwise: what is stored
    # is the same, so is the result
    collected_at = datetime.fromisoformat(result.payload["collected_at"])
    in_another_offset = collected_at.astimezone(timezone(timedelta(hours=2))).isoformat()
    rewritten = _republished(result, "S-A", collected_at=in_another_offset, original_value="40")
    if same_batch:
        await monitor.read(result, result, republished, rewritten)
    else:
        for envelope in (result, result, republished, rewritten):
            await monitor.read(envelope)
    assert await monitor.values("S-A") == [40.0]
    assert await monitor.dead_letters() == []


def _content_changed(result: Envelope, field: str) -> dict[str, object]:
    """The smallest change of one stored field of ``result``'s content."""
    if field == "value_mg_l":
        value = math.nextafter(result.payload["value"], math.inf)  # one float8 step
        return {"value": value, "original_value": str(value)}
    if field == "collected_at":
        collected_at = datetime.fromisoformat(result.payload["collected_at"])
        return {"collected_at": (collected_at + timedelta(microseconds=1)).isoformat()}
    if field == "status":  # a correction names what it supersedes (the contract)
        return {"status": "corrected", "supersedes_result_id": str(uuid.uuid4())}
    if field == "comparator":  # the same number, now a limit: "<40" is no measured 40
        return {"comparator": "<", "original_value": "<40.0"}
    return {"supersedes_result_id": str(uuid.uuid4())}  # another result superseded


@pytest.mark.parametrize("same_batch", [False, True])
@pytest.mark.parametrize(
    "field", ["value_mg_l", "comparator", "collected_at", "status", "supersedes_result_id"]
)
async def test_a_result_under_its_subjects_result_id_with_other_content_is_dead_lettered(
    pool: asyncpg.Pool, same_batch: bool, field: str
) -> None:
    """lab-ingestion gives every version of a result its own result_id: another content under
    a stored one (a producer bug, a corrupted replay) was skipped by ON CONFLICT and marked
    applied, its value gone unseen. It is dead-lettered; the one stored first stands, and its
    id is not kept as refused (it is the stored result's)."""
    monitor = Monitor(pool)
    # only a correction supersedes: one superseding a result never stored, for that field
    supersedes = uuid.uuid4() if field == "supersedes_result_id" else None
    original = crp_result("S-A", 40.0, supersedes=supersedes)
    reused = _republished(original, "S-A", **_content_changed(original, field))
    await read_as_reused(monitor, original, reused, same_batch)
    assert await monitor.values("S-A") == [40.0]


async def read_as_reused(
    monitor: Monitor, original: Envelope, reused: Envelope, same_batch: bool
) -> None:
    """``reused`` (``original``'s result_id with other content) read after ``original``, in
    one batch or the next, with another subject's result: dead-lettered reused-result-id,
    the one stored first standing, its id not kept as refused, the other result applied."""
    own = crp_result("S-B", 7.0)  # the batch's other events are applied
    if same_batch:
        await monitor.read(original, reused, own)
    else:
        await monitor.read(original)
        await monitor.read(reused, own)
    assert await monitor.dead_letters() == ["reused-result-id"]
    assert await monitor.values("S-B") == [7.0]
    stored = await monitor.pool.fetchval(
        "SELECT source_event_id FROM crp_results WHERE result_id = $1", _id(original)
    )
    assert stored == original.event_id
    assert await monitor.pool.fetchval("SELECT count(*) FROM crp_refused_results") == 0


@pytest.mark.parametrize(
    ("cancellation_first", "outcomes"),
    [(True, ["pending", "applied-on-arrival"]), (False, ["applied"])],
    ids=["stored-cancelled", "cancelled-once-stored"],
)
async def test_a_cancelled_result_read_again_is_a_duplicate_not_a_reused_id(
    pool: asyncpg.Pool, cancellation_first: bool, outcomes: list[str]
) -> None:
    """Stored cancelled (its cancellation waited for it) or cancelled since: the cancellation
    is no content of the result, so the result re-published under a new event id is a
    duplicate, and stays withdrawn."""
    monitor = Monitor(pool)
    result = crp_result("S-A", 40.0)
    cancellation = crp_cancelled("S-A", _id(result))
    first, second = (cancellation, result) if cancellation_first else (result, cancellation)
    await monitor.read(first)
    await monitor.read(second)
    await monitor.read(_republished(result, "S-A"))
    await monitor.read(result, _republished(result, "S-A"))
    assert await monitor.dead_letters() == []
    assert await monitor.values("S-A") == []
    assert [n.outcome.value for n in monitor.cancellations] == outcomes
