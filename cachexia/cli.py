"""`cachexia`: the one console command that runs and operates the platform."""

from __future__ import annotations

import argparse
import asyncio
import sys
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from shared.auth import Role, create_token, revoke_tokens
from shared.db.migrations import AUTH_MIGRATIONS, AUTH_SCHEMA, MigrationSet, apply_migrations
from shared.jsonlog import configure_logging
from shared.settings import SERVICE_NAMES, PlatformSettings, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cachexia", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the whole platform in this terminal")
    service = commands.add_parser("service", help="run one service")
    service.add_argument("name", choices=SERVICE_NAMES)
    commands.add_parser("migrate", help="apply every service's pending migrations")
    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="create a token (printed once)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True)
    create.add_argument(
        "--sender", action="append", type=_sender, dest="senders", metavar="APPLICATION^FACILITY",
        help="a lab token may deliver results only as this sender (MSH-3^MSH-4, or a JSON "
        "body's source); repeat for several; without it, as any sender",
    )  # fmt: skip
    revoke = token_commands.add_parser(
        "revoke", help="revoke every token of that name (refused within 30 s)"
    )
    revoke.add_argument("--name", required=True)
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
    args = parser.parse_args(argv)
    if getattr(args, "senders", None) and args.role != Role.LAB.value:
        parser.error("--sender binds a lab token: use it with --role lab")
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
    if args.token_command == "revoke":  # noqa: S105 - a sub-command name, not a secret
        return asyncio.run(_revoke_tokens(settings, args.name))
    return asyncio.run(_create_token(settings, Role(args.role), args.name, args.senders))


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


async def _create_token(
    settings: PlatformSettings, role: Role, name: str, senders: list[str] | None
) -> int:
    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        await apply_migrations(conn, AUTH_SCHEMA, [MigrationSet("auth", AUTH_MIGRATIONS)])
        token = await create_token(conn, name, role, senders)
    finally:
        await conn.close()
    sys.stdout.write(f"{token}\n")
    sys.stderr.write("Keep this token now: only its hash is stored; it cannot be shown again.\n")
    if role is Role.LAB and not senders:
        sys.stderr.write(
            "This lab token may deliver results under any sender's name; bind it to its "
            "senders with --sender APPLICATION^FACILITY.\n"
        )
    return 0


async def _revoke_tokens(settings: PlatformSettings, name: str) -> int:
    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        await apply_migrations(conn, AUTH_SCHEMA, [MigrationSet("auth", AUTH_MIGRATIONS)])
        revoked = await revoke_tokens(conn, name)
    finally:
        await conn.close()
    if not revoked:
        sys.stderr.write(f"no token named {name!r} is in use\n")
        return 1
    sys.stdout.write(f"{revoked} token(s) named {name!r} revoked; refused within 30 s\n")
    return 0


def _sender(text: str) -> str:
    """APPLICATION^FACILITY, both parts present (as HL7 MSH-3^MSH-4 and JSON sources)."""
    application, caret, facility = text.partition("^")
    if not caret or not application.strip() or not facility.strip() or "^" in facility:
        raise argparse.ArgumentTypeError(f"{text!r}: expected APPLICATION^FACILITY, e.g. LIS^HOSP")
    return f"{application.strip()}^{facility.strip()}"


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
    await migrate_all(settings)
    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        added = await add_source(conn, application, facility, args.time_zone, site)
        sites = await enrolled_sites(conn)
    finally:
        await conn.close()
    if site and site not in sites:  # a typo would discard every result of the sender
        known = ", ".join(sorted(sites)) or "none yet"
        sys.stderr.write(
            f"warning: no subject of site {site} is enrolled (sites with subjects: {known}); "
            "the sender's results are matched to that site's subjects only: check the name\n"
        )
    state = "allowed" if added else "already allowed"
    zone = f"; local times in {args.time_zone}" if args.time_zone else ""
    at_site = f"; patients of site {site}" if site else ""
    sys.stdout.write(f"HL7 sender {application}^{facility}: {state}{zone}{at_site}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
