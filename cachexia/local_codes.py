"""`cachexia source code add | list [--history] | remove`: a sender's local test codes, read as
the trial's LOINC codes (services/lab_ingestion/domain/local_codes.py says how), and what each
was read as, from when."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from cachexia.errors import EXIT_FAILURE, EXIT_USAGE
from cachexia.rejections import format_moment
from cachexia.sender_options import sender_arguments, sender_part

if TYPE_CHECKING:  # the service's modules are imported only when a code command runs
    from services.lab_ingestion.domain.local_codes import LocalCode, LocalCodeChange
    from services.lab_ingestion.service_layer.sender_admin import SenderAdminUnitOfWork

# how soon the running service reads a change (``local_code_cache.REFRESH_SECONDS``)
LIVE_WITHIN = "within 2 seconds"
# a mapping kept to a code that names no trial analyte (by hand, or by an earlier version)
NOT_APPLIED = "not applied"


def add_code_commands(source_commands: Any) -> None:
    """``source_commands``: the subparsers of ``cachexia source``."""
    code = source_commands.add_parser(
        "code", help="read a sender's local test codes as the trial's LOINC codes"
    )
    code_commands = code.add_subparsers(dest="code_command", required=True)
    add = code_commands.add_parser(
        "add", help="read a sender's local test code as a trial analyte's LOINC code"
    )
    sender_arguments(add, part=sender_part)
    _code_arguments(add)
    add.add_argument(
        "--loinc", required=True,
        help="the LOINC code of the trial analyte the test measures (PROTOCOL section 6), "
        "e.g. 1988-5",
    )  # fmt: skip
    listed = code_commands.add_parser("list", help="the local codes mapped, by sender")
    sender_arguments(listed, part=str.strip, required=False)
    listed.add_argument(
        "--history", action="store_true",
        help="every change of the mappings instead, oldest first: what each code was read "
        "as from when, and when it was removed (a mapping kept before the record began: as "
        "of when it was last set)",
    )  # fmt: skip
    remove = code_commands.add_parser(
        "remove", help="forget a mapping: the code's results name no trial analyte again"
    )
    sender_arguments(remove, part=str.strip)
    _code_arguments(remove)


def _code_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--code", required=True,
        help="the local code as the sender writes it in OBX-3 (its first component), e.g. CRP",
    )  # fmt: skip
    parser.add_argument(
        "--system", default="",
        help="its coding system, as OBX-3's third component names it (e.g. L or 99LAB); "
        "leave it out when the sender writes none",
    )  # fmt: skip


async def run_code_command(uow: SenderAdminUnitOfWork, args: argparse.Namespace) -> int:
    if args.code_command == "list":
        show = _history if args.history else _list
        return await show(uow, args.application or None, args.facility or None)
    if args.code_command == "remove":
        return await _remove(uow, args)
    return await _add(uow, args)


async def _add(uow: SenderAdminUnitOfWork, args: argparse.Namespace) -> int:
    from services.lab_ingestion.domain.local_codes import InvalidLocalCode  # noqa: PLC0415 - lean start-up
    from services.lab_ingestion.service_layer.local_code_admin import (  # noqa: PLC0415 - lean start-up
        MappedOtherwise,
        SenderNotAllowed,
        map_local_code,
    )

    application, facility = args.application, args.facility
    try:
        mapped = await map_local_code(
            uow, application, facility, args.system, args.code, loinc=args.loinc
        )
    except InvalidLocalCode as error:
        return _refused(f"{error}; no local code was mapped")
    except SenderNotAllowed as error:
        return _refused(
            f"{error}: add it first (cachexia source add --application {application} "
            f"--facility {facility}); no local code was mapped"
        )
    except MappedOtherwise as error:
        return _refused(
            f"{_read_as(error.kept)}: a mapping is not changed in place (results stored "
            "through it keep that code, and a correction, cancellation or late copy of one "
            "is compared with what was stored); remove it first (cachexia source code "
            "remove), then map the code again; no local code was mapped"
        )
    change = ", unchanged" if mapped.unchanged else f"; live {LIVE_WITHIN}"
    sys.stdout.write(f"{_read_as(mapped.mapping)}{change}\n")
    if mapped.earlier is not None:
        earlier = mapped.earlier
        sys.stderr.write(
            f"warning: {_named(earlier.system, earlier.code)} was read as LOINC {earlier.loinc}"
            f" (set {format_moment(earlier.changed_at)}): results stored through that mapping "
            "keep that code, and a late copy of one cancelled since is taken for a new one "
            "(cachexia source code list --history)\n"
        )
    return 0


async def _list(uow: SenderAdminUnitOfWork, application: str | None, facility: str | None) -> int:
    from services.lab_ingestion.service_layer.local_code_admin import list_local_codes  # noqa: PLC0415 - lean start-up

    kept = await list_local_codes(uow, application, facility)
    for k in kept:
        m = k.mapping
        sys.stdout.write(
            f"{_columns(m)} {m.loinc:<8} {_analyte(m, NOT_APPLIED):<12} "
            f"added {format_moment(k.added_at)}\n"
        )
    if not kept:
        of = _of(application, facility)
        sys.stderr.write(f"no local code{of} is mapped (cachexia source code add)\n")
    return 0


async def _history(
    uow: SenderAdminUnitOfWork, application: str | None, facility: str | None
) -> int:
    from services.lab_ingestion.service_layer.local_code_admin import local_code_history  # noqa: PLC0415 - lean start-up

    changes = await local_code_history(uow, application, facility)
    for change in changes:
        m = change.mapping
        what = f"mapped to {m.loinc} ({_analyte(m, NOT_APPLIED)})" if m else "removed"
        sys.stdout.write(f"{format_moment(change.changed_at)}  {_columns(change)} {what}\n")
    if not changes:
        of = _of(application, facility)
        sys.stderr.write(f"no change of a local code mapping{of} is recorded\n")
    return 0


async def _remove(uow: SenderAdminUnitOfWork, args: argparse.Namespace) -> int:
    from services.lab_ingestion.service_layer.local_code_admin import unmap_local_code  # noqa: PLC0415 - lean start-up

    unmapped = await unmap_local_code(uow, args.application, args.facility, args.system, args.code)
    named = _named(unmapped.system, unmapped.code)
    removed = unmapped.removed
    if removed is None:
        sys.stderr.write(f"no {named} of {unmapped.sender} is mapped (cachexia source code list)\n")
        return EXIT_FAILURE
    sys.stdout.write(f"{_read_as(removed, 'is no longer read as')}: removed, {LIVE_WITHIN}\n")
    if removed.applied_analyte is None:  # never applied: nothing was read through it
        return 0
    sys.stderr.write(
        f"warning: {unmapped.sender}'s results of {named} are no longer read as "
        f"{_analyte(removed)}: a message of such results alone is rejected "
        "(unknown-analyte), and later corrections and cancellations of results stored "
        "under it are left out as another test's; map it again to read them (cachexia "
        "source code add), to the same LOINC code: under another, a late copy of a result "
        "cancelled meanwhile would be taken for a new one\n"
    )
    return 0


def _read_as(mapping: LocalCode, read: str = "is read as") -> str:
    """``LIS^HOSP: local code CRP (system L) is read as LOINC 1988-5 (crp)``."""
    sender = f"{mapping.application}^{mapping.facility}"
    named = _named(mapping.system, mapping.code)
    return f"{sender}: {named} {read} LOINC {mapping.loinc} ({_analyte(mapping)})"


def _analyte(mapping: LocalCode, not_applied: str = f"no trial analyte's, {NOT_APPLIED}") -> str:
    analyte = mapping.applied_analyte
    return analyte.value if analyte else not_applied


def _columns(mapping: LocalCode | LocalCodeChange) -> str:
    """The sender, system and code, in the columns ``list`` lines up."""
    sender = f"{mapping.application}^{mapping.facility}"
    return f"{sender:<20} {mapping.system or '-':<8} {mapping.code:<16}"


def _of(application: str | None, facility: str | None) -> str:
    """`` of LIS^*``: the senders a listing was narrowed to ("": all)."""
    return f" of {application or '*'}^{facility or '*'}" if application or facility else ""


def _named(system: str, code: str) -> str:
    return f"local code {code} ({f'system {system}' if system else 'no coding system'})"


def _refused(reason: str) -> int:
    sys.stderr.write(f"cachexia: {reason}\n")
    return EXIT_USAGE
