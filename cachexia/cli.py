"""`cachexia`: the one console command that runs and operates the platform."""

from __future__ import annotations

import argparse
import asyncio
import sys
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from cachexia.tokens import add_token_commands, check_token_arguments, run_token_command
from shared.jsonlog import configure_logging
from shared.settings import SERVICE_NAMES, PlatformSettings, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cachexia", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the whole platform in this terminal")
    service = commands.add_parser("service", help="run one service")
    service.add_argument("name", choices=SERVICE_NAMES)
    commands.add_parser("migrate", help="apply every service's pending migrations")
    add_token_commands(commands)
    source = commands.add_parser("source", help="manage the HL7 senders allowed to deliver")
    source_commands = source.add_subparsers(dest="source_command", required=True)
    add = source_commands.add_parser("add", help="allow an HL7 sender (MSH-3 and MSH-4)")
    add.add_argument("--application", required=True, help="MSH-3 sending application")
    add.add_argument("--facility", required=True, help="MSH-4 sending facility")
    add.add_argument(
        "--time-zone", type=_time_zone, default=None,
        help="IANA zone the sender writes times without a UTC offset in (e.g. Europe/Zurich)",
    )  # fmt: skip
    add.add_argument(
        "--site", default=None,
        help="the trial site whose patients the sender reports (its subjects only are matched)",
    )  # fmt: skip
    add.add_argument(
        "--identifier-authority", default=None,
        help="assigning authority (PID-3 CX-4, FHIR Identifier.system) of the hospital numbers "
        "subjects are enrolled by: chooses among a message's numbers of several authorities",
    )  # fmt: skip
    args = parser.parse_args(argv)
    check_token_arguments(parser, args)
    settings = load_settings()
    if args.command == "up":
        from cachexia.up import run_platform  # noqa: PLC0415 - keeps `service` start-up lean

        return run_platform(settings)
    if args.command == "service":
        return run_service(args.name, settings)
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "source":
        return asyncio.run(_add_source(settings, args))
    return asyncio.run(run_token_command(settings, args))


def run_service(name: str, settings: PlatformSettings) -> int:
    from cachexia.services import service_definition  # noqa: PLC0415
    from shared.runtime import BackgroundTaskFailed, ServiceRuntime  # noqa: PLC0415

    configure_logging(name, settings.log_level)
    runtime = ServiceRuntime(service_definition(name), settings)
    try:
        asyncio.run(runtime.run())
    except BackgroundTaskFailed:  # logged by the runtime; the supervisor restarts us
        return 1
    return 0


async def _migrate(settings: PlatformSettings) -> int:
    from cachexia.platform import migrate_all  # noqa: PLC0415

    for service, applied in (await migrate_all(settings)).items():
        sys.stdout.write(f"{service}: {len(applied)} applied\n")
    return 0


def _time_zone(name: str) -> str:
    """An IANA time zone name, checked now (a bad one fails here, not at the first message)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise argparse.ArgumentTypeError(f"unknown time zone {name!r}") from error
    return name


async def _add_source(settings: PlatformSettings, args: argparse.Namespace) -> int:
    from cachexia.platform import migrate_all  # noqa: PLC0415
    from services.lab_ingestion.adapters.repository import (  # noqa: PLC0415
        add_source,
        enrolled_sites,
    )

    application, facility = args.application.strip(), args.facility.strip()
    site = args.site.strip() if args.site else None
    authority = args.identifier_authority.strip() if args.identifier_authority else None
    await migrate_all(settings)
    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        added = await add_source(
            conn, application, facility,
            time_zone=args.time_zone, site_id=site, identifier_authority=authority,
        )  # fmt: skip
        sites = await enrolled_sites(conn)
    finally:
        await conn.close()
    if site and site not in sites:  # a typo would discard every result of the sender
        known = ", ".join(sorted(sites)) or "none yet"
        sys.stderr.write(
            f"warning: no subject of site {site} is enrolled (sites with subjects: {known}); "
            "the sender's results are matched to that site's subjects only: check the name\n"
        )
    if not args.time_zone:  # MSH-7's offset is the send time's: an hour off across a change
        sys.stderr.write(
            "note: without --time-zone, a collection time written without a UTC offset is read "
            "with MSH-7's offset, which is an hour off for a sample drawn before a clock change "
            "and sent after it; give the zone the sender writes local times in\n"
        )
    if not authority:  # numbers of several authorities cannot be chosen between
        sys.stderr.write(
            "note: without --identifier-authority, a message naming its patient by numbers of "
            "several assigning authorities (PID-3 CX-4, FHIR Identifier.system; say the "
            "laboratory's own number beside the hospital's) is rejected when one of them is "
            "enrolled; give the authority of the numbers subjects are enrolled by\n"
        )
    state = "allowed" if added else "already allowed"
    zone = f"; local times in {args.time_zone}" if args.time_zone else ""
    at_site = f"; patients of site {site}" if site else ""
    numbers = f"; patients matched by numbers of {authority}" if authority else ""
    sys.stdout.write(f"HL7 sender {application}^{facility}: {state}{zone}{at_site}{numbers}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
