"""`cachexia rejection list | show | close` and `cachexia replay`: lab-ingestion's kept
rejections.

A rejection keeps its input's redacted copy (no PHI), so listing and showing them is safe.
`replay` ingests a kept HL7 message again once its cause is fixed (a sender added to the
allow-list, a patient enrolled, a fault of the service fixed): see
services/lab_ingestion/service_layer/replay.py for what is replayed and what is refused.
`close` takes one that no replay settles off the open list (a FHIR or JSON input the
laboratory resent, a test message), saying why from a fixed list.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cachexia.errors import EXIT_FAILURE, EXIT_USAGE
from services.lab_ingestion.domain.closing_reasons import CLOSING_REASONS
from shared.settings import PlatformSettings

if TYPE_CHECKING:  # the service's modules are imported only when these commands run
    import asyncpg

    from services.lab_ingestion.domain.records import KeptRejection

MAX_LIMIT = 10_000  # rejections `rejection list --limit` shows at most
SINCE_HELP = (
    "received at or after TIME, ISO 8601: as listed (2026-12-04 02:29:48Z), with an offset"
    " (2026-12-04T08:00+01:00), or without one (2026-12-04 08:00; a date alone is its"
    " midnight), then taken as UTC"
)


def add_rejection_commands(commands: Any) -> None:
    """``commands``: the subparsers of the ``cachexia`` command."""
    rejection = commands.add_parser("rejection", help="inspect lab-ingestion's rejections")
    rejection_commands = rejection.add_subparsers(dest="rejection_command", required=True)
    listing = rejection_commands.add_parser("list", help="the newest rejections first")
    listing.add_argument("--source", help="only this sender's (MSH-3^MSH-4, e.g. LIS^HOSP)")
    listing.add_argument(
        "--reason", type=_reason_code, help="only this reason code (e.g. unknown-source)"
    )
    listing.add_argument("--since", type=parse_moment, metavar="TIME", help=SINCE_HELP)
    listing.add_argument(
        "--open", action="store_true", help="only those neither replayed nor closed"
    )
    listing.add_argument("--limit", type=_count, default=50, help="at most this many (50)")
    show = rejection_commands.add_parser("show", help="one rejection with its redacted copy")
    show.add_argument("rejection_id", type=_rejection_id)
    close = rejection_commands.add_parser(
        "close", help="take an open rejection that no replay settles off the open list"
    )
    close.add_argument("rejection_id", type=_rejection_id)
    close.add_argument(
        "--as", dest="closed_as", required=True, choices=sorted(CLOSING_REASONS),
        help="why: " + "; ".join(f"{name}: {why}" for name, why in CLOSING_REASONS.items()),
    )  # fmt: skip
    replay = commands.add_parser(
        "replay", help="ingest a kept HL7 rejection again, once its cause is fixed"
    )
    replay.add_argument("rejection_id", type=_rejection_id)
    replay.add_argument(
        "--dry-run",
        action="store_true",
        help="make every check the replay would (its copy, the allow-list, the patient's"
        " enrolment, its results' chains since it was kept) and say which refuses it;"
        " write nothing",
    )


async def run_rejection_command(settings: PlatformSettings, args: argparse.Namespace) -> int:
    from cachexia.schema_check import check_schema_current  # noqa: PLC0415 - keeps `service` start-up lean
    from services.lab_ingestion.bootstrap import definition  # noqa: PLC0415 - likewise
    from shared.db.pool import create_pool  # noqa: PLC0415 - likewise

    # never migrates (only `cachexia migrate` does); connects first: unreachable, one line
    await check_schema_current(settings, [definition.name])
    pool = await create_pool(settings.postgres_dsn, definition.schema, "cachexia", max_size=2)
    try:
        if args.command == "replay":
            return await _replay(pool, settings, args.rejection_id, dry_run=args.dry_run)
        if args.rejection_command == "show":
            return await _show(pool, args.rejection_id)
        if args.rejection_command == "close":
            return await _close(pool, args.rejection_id, args.closed_as)
        return await _list(pool, args)
    finally:
        await pool.close()


async def _list(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    from services.lab_ingestion.adapters.rejections import RejectionStore  # noqa: PLC0415 - lean

    filters = {
        "source": args.source, "reason_code": args.reason, "since": args.since,
        "open_only": args.open,
    }  # fmt: skip
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        store = RejectionStore(conn)  # the count of the same snapshot as the listing
        found = await store.newest(**filters, limit=args.limit)
        matching = await store.count(**filters) if len(found) == args.limit else len(found)
    for kept in found:
        state = kept.state.shown
        sys.stdout.write(
            f"{kept.rejection_id}  {format_moment(kept.received_at)}  {kept.channel:<8} "
            f"{kept.source or '-':<20} {kept.reason_code:<28} {state}"
            f"{f'  ({kept.replay_outcome})' if kept.replay_outcome else ''}\n"
        )
    if not found:
        sys.stderr.write("no rejection matches\n")
    elif matching > len(found):  # review 156: an open one hidden by 55 newer went unseen
        sys.stderr.write(cut_listing(len(found), matching))
    return 0


def cut_listing(shown: int, matching: int) -> str:
    """The last line of a listing cut at its limit: how many more match, and how to see them."""
    return (
        f"{shown} of {matching} matching rejections shown, the newest first; list more with "
        f"--limit N (up to {MAX_LIMIT}), or narrow the listing with --open, --reason CODE, "
        "--source APP^FAC or --since TIME\n"
    )


async def _show(pool: asyncpg.Pool, rejection_id: uuid.UUID) -> int:
    kept = await _kept(pool, rejection_id)
    if kept is None:
        return EXIT_USAGE
    for name, value in (
        ("rejection", kept.rejection_id), ("received", kept.received_at),
        ("channel", kept.channel), ("source", kept.source), ("message id", kept.control_id),
        ("reason", f"{kept.reason_code}: {kept.reason}"),
        ("replayed", kept.replayed_at or "no"), ("last replay", kept.replay_outcome or "-"),
        ("closed", f"{kept.closed_at} ({kept.closed_as})" if kept.closed_at else "no"),
    ):  # fmt: skip
        sys.stdout.write(f"{name + ':':<13}{value}\n")
    sys.stdout.write("copy (redacted):\n" + kept.payload.replace("\r", "\n") + "\n")
    return 0


async def _close(pool: asyncpg.Pool, rejection_id: uuid.UUID, closed_as: str) -> int:
    from services.lab_ingestion.adapters.rejection_admin import RejectionAdminUnitOfWork  # noqa: PLC0415 - lean
    from services.lab_ingestion.service_layer.rejection_admin import close_rejection  # noqa: PLC0415 - lean

    closing = await close_rejection(RejectionAdminUnitOfWork(pool), rejection_id, closed_as)
    if closing.closed:
        sys.stdout.write(f"{rejection_id}: closed as {closed_as}\n")
        return 0
    if closing.found is None:
        sys.stderr.write(f"cachexia: no rejection {rejection_id}\n")
        return EXIT_USAGE
    sys.stderr.write(f"cachexia: {rejection_id} is not open: {closing.found.shown}\n")
    return EXIT_FAILURE


async def _replay(
    pool: asyncpg.Pool, settings: PlatformSettings, rejection_id: uuid.UUID, *, dry_run: bool
) -> int:
    from services.lab_ingestion.bootstrap import (  # noqa: PLC0415 - lean
        build_replayer,
        checked_stored_id,
        hash_ids_left_as_written,
    )
    from services.lab_ingestion.service_layer.replay import ReplayRefused  # noqa: PLC0415 - lean

    stored_id = await checked_stored_id(pool, settings)  # the platform's key, or exit 2
    kept = await _kept(pool, rejection_id)
    if kept is None:
        return EXIT_USAGE
    replayer = await build_replayer(pool, settings, stored_id)
    try:
        if dry_run:  # every check the replay makes, nothing written
            replayed = await replayer.dry_run(kept)
        else:
            await hash_ids_left_as_written(pool, stored_id)
            replayed = await replayer.replay(kept)  # the rejection marked in its commit
    except ReplayRefused as refused:
        sys.stderr.write(f"cachexia: {rejection_id} is not replayed: {refused}\n")
        return EXIT_FAILURE
    sys.stdout.write(f"{rejection_id}: {replayed.summary}\n")
    return 0 if replayed.settled else EXIT_FAILURE


async def _kept(pool: asyncpg.Pool, rejection_id: uuid.UUID) -> KeptRejection | None:
    from services.lab_ingestion.adapters.rejections import RejectionStore  # noqa: PLC0415 - lean

    async with pool.acquire() as conn:
        kept = await RejectionStore(conn).get(rejection_id)
    if kept is None:
        sys.stderr.write(f"cachexia: no rejection {rejection_id}\n")
    return kept


def _rejection_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rejection id (a UUID)") from None


def format_moment(moment: datetime) -> str:
    """A listed time, in UTC and marked so (``2026-12-04 02:29:48Z``): ``--since`` takes it."""
    utc = moment.astimezone(UTC)  # the year in four digits: %Y writes 999 for 0999
    return f"{utc.year:04d}-{utc:%m-%d %H:%M:%S}Z"


def parse_moment(text: str) -> datetime:
    """``--since``: ISO 8601 with an offset (``Z`` included), as ``format_moment`` writes it;
    a time without one, or a date alone (its midnight), is taken as UTC. Returned in UTC: a
    time that is none there (``9999-12-31T23:30-01:00`` is in the year 10000) is refused
    here, not by the query (review 214: asyncpg's DataError, a traceback)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time; use ISO 8601: 2026-12-04, 2026-12-04 08:00 (UTC)"
            " or 2026-12-04T08:00+01:00"
        ) from None
    try:
        return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: in UTC it falls outside the years 1 to 9999"
        ) from None


def _reason_code(text: str) -> str:
    """A reason code lab-ingestion gives (a misspelt one matched nothing: "no rejection
    matches" read as if there were none)."""
    from services.lab_ingestion.domain.model import RejectionCode  # noqa: PLC0415 - lean start-up

    codes = sorted(code.value for code in RejectionCode)
    if text not in codes:
        raise argparse.ArgumentTypeError(f"{text!r} is no reason code; one of: {', '.join(codes)}")
    return text


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r}: a number from 1 to {MAX_LIMIT}")
    return int(text)
