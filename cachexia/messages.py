"""`cachexia message show`: whether lab-ingestion stored a message, found by the id its
sender gave it (HL7 MSH-10, a JSON ``message_id``; a FHIR Observation is known by its
content, not by an id), and what became of its results.

Ids are stored only as keyed hashes (services/lab_ingestion/adapters/stored_ids.py): this
command hashes the id given with the platform's key and looks that up. Nothing it prints
identifies the patient (the subject is the trial's pseudonym).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from cachexia.errors import EXIT_FAILURE
from cachexia.rejections import format_moment
from shared.settings import PlatformSettings

if TYPE_CHECKING:
    from services.lab_ingestion.adapters.stored_messages import StoredMessage, StoredResult


def add_message_commands(commands: Any) -> None:
    """``commands``: the subparsers of the ``cachexia`` command."""
    message = commands.add_parser("message", help="look up a message lab-ingestion stored")
    message_commands = message.add_subparsers(dest="message_command", required=True)
    show = message_commands.add_parser(
        "show", help="a stored message and its results, by the id its sender gave it"
    )
    show.add_argument(
        "control_id", help="the message's id as the sender wrote it (MSH-10, JSON message_id)"
    )
    show.add_argument(
        "--source", required=True,
        help="its sender: MSH-3^MSH-4 (LIS^HOSP), or a JSON body's application^facility",
    )  # fmt: skip


async def run_message_command(settings: PlatformSettings, args: argparse.Namespace) -> int:
    # imported here: the other commands need not load the service
    from cachexia.schema_check import check_schema_current  # noqa: PLC0415 - see above
    from services.lab_ingestion.adapters.stored_messages import find_message  # noqa: PLC0415 - see above
    from services.lab_ingestion.bootstrap import (  # noqa: PLC0415 - see above
        checked_stored_id,
        definition,
        hash_ids_left_as_written,
    )
    from shared.db.pool import create_pool  # noqa: PLC0415 - see above

    # never migrates (only `cachexia migrate` does); connects first: unreachable, one line
    await check_schema_current(settings, [definition.name])
    pool = await create_pool(settings.postgres_dsn, definition.schema, "cachexia", max_size=2)
    try:
        stored_id = await checked_stored_id(pool, settings)  # the platform's key, or exit 2
        await hash_ids_left_as_written(pool, stored_id)  # ids stored as written hashed first
        async with pool.acquire() as conn:
            found = await find_message(conn, stored_id, args.source, args.control_id)
    finally:
        await pool.close()
    if found is None:
        sys.stderr.write(
            f"cachexia: no message {args.control_id!r} from {args.source} is stored (a message "
            "whose patient is not enrolled is not kept; a rejected one is in `cachexia "
            "rejection list`)\n"
        )
        return EXIT_FAILURE
    _print(found)
    return 0


def _print(message: StoredMessage) -> None:
    subject = f" (subject {message.subject_id})" if message.subject_id else ""
    for name, value in (
        ("message", message.message_id), ("source", message.source),
        ("channel", message.channel), ("received", format_moment(message.received_at)),
        ("outcome", f"{message.outcome}{subject}"), ("results", len(message.results)),
    ):  # fmt: skip
        sys.stdout.write(f"{name + ':':<10}{value}\n")
    for result in message.results:
        sys.stdout.write(f"  {_result_line(result)}\n")
    for line in _withdrawal_lines(message):
        sys.stdout.write(f"{line}\n")


def _withdrawal_lines(message: StoredMessage) -> list[str]:
    """What the message's cancellations withdrew (review 156: one that withdrew a CRP and
    one under an order number that never held a result were shown alike): each result,
    with the message that had stored it; or, plainly, that one withdrew nothing. Nothing of
    a message without a cancellation, or stored before they were counted (migration 0030)."""
    asked, withdrew = message.cancellations or 0, message.withdrew
    if not withdrew:
        if not asked:
            return []
        return [
            f"{'withdrew:':<10}nothing (its {asked} cancellation(s), X, D or W, found no "
            "result standing under the key sent, order number and test or result id: none "
            "was ever stored there, or it was withdrawn before)"
        ]
    lines = [f"{'withdrew:':<10}{len(withdrew)} result(s)"]
    lines += [
        f"  {w.result_id}  {w.analyte:<12} {w.status}  stored by message {w.message_id}"
        for w in withdrew
    ]
    found = len({w.result_key for w in withdrew})  # a cancellation withdraws a whole chain
    if asked > found:
        lines.append(
            f"  {asked - found} of its {asked} cancellation(s) withdrew nothing: no result "
            "stood under the key sent, or it was withdrawn before"
        )
    return lines


def _result_line(result: StoredResult) -> str:
    limit = result.comparator or ""  # a censored value: "<0.1", never read as 0.1
    value = "-" if result.value is None else f"{limit}{result.value:g} {result.unit or ''}".strip()
    line = (
        f"{result.result_id}  {result.analyte:<12} {result.status}  {value:<16} "
        f"collected {format_moment(result.collected_at)}"
    )
    if result.supersedes_result_id:
        line += f"  corrects {result.supersedes_result_id}"
    if result.cancelled_at and result.cancelled_by:
        line += f"  withdrawn {format_moment(result.cancelled_at)} by message {result.cancelled_by}"
    elif result.cancelled_at:  # before migration 0030, or by hand
        line += f"  withdrawn {format_moment(result.cancelled_at)} (by no message on record)"
    if result.laboratory_comment:  # its text is not stored: the hospital's system has it
        line += "  laboratory comment (read it in the hospital's system)"
    return line
