"""A service's local copy of the enrolled subjects, fed from `trial.subjects.v1`.

Several services need to know who is enrolled; each keeps its own ``enrolled_subjects``
table (no service reads another's tables), created by the shared ``subjects`` migration set.
This is the contract's reference data, not a service's domain rule, so the adapter and its
two handlers (``shared.subject_handlers``, free of the driver) live in the shared library.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from shared.contracts.events.trial import SubjectEnrolled
from shared.contracts.topics import TRIAL_SUBJECTS
from shared.db.migrations import MigrationSet
from shared.db.unit_of_work import PostgresUnitOfWork
from shared.messaging.handling import EventHandler
from shared.service import ConsumerDefinition
from shared.subject_handlers import SUBJECT_HANDLERS

SUBJECT_MIGRATIONS = Path(__file__).resolve().parent / "subject_migrations"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Enrolment:
    """A subject as the directory knows it: enrolled at ``site_id``, and withdrawn at
    ``withdrawn_at``."""

    subject_id: str
    withdrawn_at: datetime | None  # None: in the trial
    site_id: str  # the trial site it is enrolled at (whose site tokens read it)


class SubjectDirectory:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def enrol(self, subject_id: str, enrolled: SubjectEnrolled) -> bool:
        """Keep (or update) an enrolment; a withdrawal read before it still stands (the
        earliest, if the subject's row has one too). False, and nothing changed, for an
        enrolment of a subject withdrawn before it (``enrolled_at`` after the withdrawal):
        a withdrawal is final, and a re-screened patient is enrolled under a new subject id
        (the caller makes it seen). An enrolment read again (a replay, a correction of it)
        is enrolled when the withdrawal was, and updates the row as before."""
        applied = await self._conn.fetchval(
            """WITH early AS (
                   DELETE FROM early_withdrawals WHERE subject_id = $1 RETURNING withdrawn_at
               )
               INSERT INTO enrolled_subjects (subject_id, site_id, site_timezone,
                                              hospital_id_hmac, day1, enrolled_at, withdrawn_at)
               VALUES ($1, $2, $3, $4, $5, $6, (SELECT withdrawn_at FROM early))
               ON CONFLICT (subject_id) DO UPDATE SET site_id = EXCLUDED.site_id,
                   site_timezone = EXCLUDED.site_timezone,
                   hospital_id_hmac = EXCLUDED.hospital_id_hmac, day1 = EXCLUDED.day1,
                   withdrawn_at = LEAST(enrolled_subjects.withdrawn_at,
                                        EXCLUDED.withdrawn_at)
               WHERE enrolled_subjects.withdrawn_at IS NULL
                  OR enrolled_subjects.withdrawn_at >= EXCLUDED.enrolled_at
               RETURNING true""",
            subject_id,
            enrolled.site_id,
            enrolled.site_timezone,
            enrolled.hospital_id_hmac,
            enrolled.day1,
            enrolled.enrolled_at,
        )
        return bool(applied)

    async def withdraw(self, subject_id: str, at: datetime) -> None:
        """Withdraw an enrolled subject; one whose enrolment has not been read yet (the
        topic re-published, a replay) is withdrawn as soon as it is.

        The earliest withdrawal stands (LEAST ignores a NULL): a second one, whatever the order
        read, never moves it later, or results collected in between would count again."""
        early = await self._conn.fetchval(
            """WITH withdrawn AS (
                   UPDATE enrolled_subjects SET withdrawn_at = LEAST(withdrawn_at, $2)
                   WHERE subject_id = $1
                   RETURNING 1
               )
               INSERT INTO early_withdrawals (subject_id, withdrawn_at)
               SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM withdrawn)
               ON CONFLICT (subject_id) DO UPDATE
                   SET withdrawn_at = LEAST(early_withdrawals.withdrawn_at, EXCLUDED.withdrawn_at)
               RETURNING true""",
            subject_id,
            at,
        )
        if early:
            log.warning("a withdrawal arrived before its enrolment; kept until it comes",
                        extra={"subject_id": subject_id})  # fmt: skip

    async def is_enrolled(self, subject_id: str) -> bool:
        found = await self._conn.fetchval(
            "SELECT 1 FROM enrolled_subjects WHERE subject_id = $1 AND withdrawn_at IS NULL",
            subject_id,
        )
        return found is not None

    async def enrolment(self, subject_id: str) -> Enrolment | None:
        """The subject's enrolment, withdrawn or not; None when none was read (a withdrawal
        read before its enrolment is no enrolment)."""
        row = await self._conn.fetchrow(
            "SELECT withdrawn_at, site_id FROM enrolled_subjects WHERE subject_id = $1",
            subject_id,
        )
        return None if row is None else Enrolment(subject_id, row["withdrawn_at"], row["site_id"])


class SubjectsUnitOfWork(PostgresUnitOfWork):
    """A unit of work with the subject directory bound; services extend it."""

    def bind(self, conn: asyncpg.Connection) -> None:
        super().bind(conn)
        self.subjects = SubjectDirectory(conn)


SUBJECT_MIGRATION_SET = MigrationSet("subjects", SUBJECT_MIGRATIONS)

# Enrolments come one at a time, long before a subject's first trial result, so a quarter
# of a second in a batch costs nothing; the platform's 20 ms window made the idle agent wake
# 50 times a second (faust's take_events), which cost lab-ingestion's MLLP path about 7 % of
# its CPU per message (bench A/B).
SUBJECT_DIRECTORY_WINDOW_SECONDS = 0.25


def subject_directory_consumer(
    service: str,
    pool: asyncpg.Pool,
    handlers: dict[str, EventHandler] | None = None,
    *,
    on_caught_up: Callable[[], None] | None = None,
) -> ConsumerDefinition:
    """A consumer of `trial.subjects.v1` that keeps the service's subject directory;
    ``on_caught_up``: told once it holds what the topic held at start
    (``shared.streaming.catch_up``)."""

    def uow() -> SubjectsUnitOfWork:
        return SubjectsUnitOfWork(pool, service)

    return ConsumerDefinition(
        name=service,
        topics=[TRIAL_SUBJECTS],
        handlers={**SUBJECT_HANDLERS, **(handlers or {})},
        uow_factory=uow,
        batch_window_seconds=SUBJECT_DIRECTORY_WINDOW_SECONDS,
        on_caught_up=on_caught_up,
    )
