"""`cachexia source add | list | remove`: the HL7 senders allowed to deliver (MSH-3^MSH-4);
`cachexia source code` (``cachexia.local_codes``): their local test codes."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cachexia.local_codes import add_code_commands, run_code_command
from cachexia.sender_options import sender_arguments, sender_part
from shared.settings import PlatformSettings

if TYPE_CHECKING:  # the service's modules are imported only when a source command runs
    from services.lab_ingestion.domain.records import Sender
    from services.lab_ingestion.service_layer.sender_admin import SenderAdminUnitOfWork


def add_source_commands(commands: Any) -> None:
    """``commands``: the subparsers of the ``cachexia`` command."""
    source = commands.add_parser("source", help="manage the HL7 senders allowed to deliver")
    source_commands = source.add_subparsers(dest="source_command", required=True)
    add = source_commands.add_parser(
        "add", help="allow an HL7 sender (MSH-3 and MSH-4), or change its settings"
    )
    sender_arguments(add, part=sender_part)
    _setting(
        add, "--time-zone", type=_time_zone,
        help="IANA zone the sender writes times without a UTC offset in (e.g. Europe/Zurich)",
    )  # fmt: skip
    _setting(
        add, "--site",
        help="the trial site whose patients the sender reports (its subjects only are matched)",
    )  # fmt: skip
    _setting(
        add, "--identifier-authority", action="append", metavar="AUTHORITY",
        help="assigning authority (PID-3 CX-4, FHIR Identifier.system) of the hospital numbers "
        "subjects are enrolled by: chooses among a message's numbers of several authorities; "
        "repeat it for each name the one authority is written by (HL7's namespace HOSP, "
        "FHIR's system urn:hosp): the names given replace those kept",
    )  # fmt: skip
    source_commands.add_parser("list", help="every allowed sender with its settings")
    remove = source_commands.add_parser(
        "remove", help="take a sender off the allow-list (its messages are then refused, AR)"
    )
    sender_arguments(remove)
    add_code_commands(source_commands)


async def run_source_command(settings: PlatformSettings, args: argparse.Namespace) -> int:
    from cachexia.platform import connect_platform  # noqa: PLC0415 - keeps `service` start-up lean
    from cachexia.schema_check import check_schema_current  # noqa: PLC0415 - likewise
    from services.lab_ingestion.adapters.sender_admin import SenderAdminUnitOfWork  # noqa: PLC0415 - lean start-up

    # the allow-list's schema and the auth schema, whose lab tokens `remove` names: at this
    # version's migrations, never migrated here (only `cachexia migrate` does)
    await check_schema_current(settings, ["lab-ingestion"])
    uow = SenderAdminUnitOfWork(lambda: connect_platform(settings))
    if args.source_command == "code":
        return await run_code_command(uow, args)
    if args.source_command == "list":
        return await _list(uow)
    if args.source_command == "remove":
        return await _remove(uow, args.application.strip(), args.facility.strip())
    return await _add(uow, args)


def _setting(parser: argparse.ArgumentParser, option: str, **kwargs: Any) -> None:
    """``--NAME VALUE`` sets it, ``--no-NAME`` forgets it; without either it is kept."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(option, default=None, **kwargs)
    group.add_argument(
        f"--no-{option.removeprefix('--')}", action="store_true",
        help=f"forget the sender's {option.removeprefix('--').replace('-', ' ')}",
    )  # fmt: skip


def _time_zone(name: str) -> str:
    """An IANA time zone name, checked now (a bad one fails here, not at the first message)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:  # Europe: a directory
        raise argparse.ArgumentTypeError(f"unknown time zone {name!r}") from error
    return name


async def _add(uow: SenderAdminUnitOfWork, args: argparse.Namespace) -> int:
    from services.lab_ingestion.domain.allow_list import Cleared, SettingsGiven  # noqa: PLC0415 - lean start-up
    from services.lab_ingestion.service_layer.sender_admin import allow_sender  # noqa: PLC0415 - lean start-up
    from services.lab_ingestion.service_layer.senders import FHIR_FACILITY  # noqa: PLC0415 - lean start-up

    site = _given(args.site)
    given = SettingsGiven(
        args.time_zone, site, _names(args.identifier_authority),
        Cleared(args.no_time_zone, args.no_site, args.no_identifier_authority),
    )  # fmt: skip
    allowed = await allow_sender(uow, args.application.strip(), args.facility.strip(), given)
    known = ", ".join(allowed.sites_with_subjects) or "none yet"
    for note in allowed.notes:
        sys.stderr.write(_NOTES[note.value].format(site=site, known=known))
    state = "allowed" if allowed.added else "already allowed"
    sender = f"{allowed.application}^{allowed.facility}"
    if allowed.facility == FHIR_FACILITY:  # a FHIR token's settings, never an MLLP sender
        kind, state = "FHIR token", f"{state} (its FHIR's settings; no HL7 sender is opened)"
    else:
        kind = "HL7 sender"
    sys.stdout.write(f"{kind} {sender}: {state}{_described(allowed.settings)}\n")
    return 0


# what `source add` tells of each SenderNote (by its value)
_NOTES = {
    "site-without-subjects": (
        "warning: no subject of site {site} is enrolled (sites with subjects: {known}); "
        "the sender's results are matched to that site's subjects only: check the name\n"
    ),
    "no-site": (
        "warning: without --site, the sender's patients are matched against every site's "
        "subjects; hospital numbers are unique only within their hospital, so another "
        "site's subject with the same number may be taken for its patient; give the trial "
        "site whose patients it reports\n"
    ),
    "no-time-zone": (
        "note: without --time-zone, a collection time written without a UTC offset is read "
        "with MSH-7's offset, which is an hour off for a sample drawn before a clock change "
        "and sent after it; give the zone the sender writes local times in\n"
    ),
    "no-identifier-authority": (
        "note: without --identifier-authority, a message naming its patient by numbers of "
        "several assigning authorities (PID-3 CX-4, FHIR Identifier.system; say the "
        "laboratory's own number beside the hospital's) is rejected when one of them is "
        "enrolled; give the authority of the numbers subjects are enrolled by\n"
    ),
}


async def _list(uow: SenderAdminUnitOfWork) -> int:
    from services.lab_ingestion.service_layer.sender_admin import list_senders  # noqa: PLC0415 - lean start-up

    senders = await list_senders(uow)
    for listed in senders:
        s = listed.sender
        codes = f"; {listed.local_codes} local code(s) mapped" if listed.local_codes else ""
        sys.stdout.write(
            f"{s.application}^{s.facility}  added {s.added_at:%Y-%m-%d %H:%M %Z}"
            f"{_described(s.settings)}{codes}\n"
        )
    if not senders:
        sys.stderr.write("no HL7 sender is allowed yet (cachexia source add)\n")
    return 0


async def _remove(uow: SenderAdminUnitOfWork, application: str, facility: str) -> int:
    from services.lab_ingestion.service_layer.sender_admin import remove_sender  # noqa: PLC0415 - lean start-up

    removed = await remove_sender(uow, application, facility)
    sender = removed.sender
    if removed.removed:
        sys.stdout.write(
            f"HL7 sender {sender} removed; its HL7 messages (MLLP, /v1/hl7) are refused (AR) "
            "within a few seconds, and so are the JSON and FHIR results of lab tokens bound "
            "to it (403)\n"
        )
        if removed.local_codes:
            sys.stdout.write(
                f"{removed.local_codes} local code mapping(s) of {sender} removed with it; map "
                "them again (cachexia source code add) if it is added again, each to the same "
                "LOINC code (cachexia source code list --history)\n"
            )
        else:
            sys.stdout.write(f"{sender} had no local code mappings\n")
    else:
        sys.stderr.write(f"no HL7 sender {sender} is allowed\n")
    # the lab tokens that deliver, or would deliver, as the sender: named all the same
    bound, unbound = _shown(removed.bound_tokens), _shown(removed.unbound_tokens)
    if bound:
        sys.stderr.write(
            f"note: lab tokens bound to {sender} are refused while it is not on the allow-list "
            f"(JSON and FHIR 403, HL7 AR; kept as unknown-source): {bound}; add it "
            "again (cachexia source add) or revoke them (cachexia token revoke --name NAME)\n"
        )
    if unbound:
        sys.stderr.write(
            f"warning: lab tokens bound to no sender may still deliver JSON results as {sender}, "
            f"its patients then matched against every site's subjects: {unbound}; "
            "revoke them (cachexia token revoke --name NAME) and create tokens bound to their "
            "senders (--sender)\n"
        )
    return 0 if removed.removed else 1


def _shown(names: tuple[str, ...]) -> str:
    return ", ".join(sorted(repr(name) for name in names))


def _given(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _names(values: list[str] | None) -> tuple[str, ...] | None:
    """The authority's names given (blank ones left out); None: none given, those kept stay."""
    names = tuple(name.strip() for name in values or () if name.strip())
    return names or None


def _described(sender: Sender | None) -> str:
    """``; local times in Z; patients of site S; patients matched by numbers of A (also
    written B, C)``."""
    if sender is None:
        return ""
    zone = f"; local times in {sender.time_zone}" if sender.time_zone else ""
    at_site = f"; patients of site {sender.site_id}" if sender.site_id else ""
    first, *others = sender.identifier_authorities or ("",)
    also = f" (also written {', '.join(others)})" if others else ""
    numbers = f"; patients matched by numbers of {first}{also}" if first else ""
    return f"{zone}{at_site}{numbers}"
