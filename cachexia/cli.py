"""`cachexia`: the one console command that runs and operates the platform."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cachexia.errors import EXIT_FAILURE, EXIT_USAGE, InfrastructureError
from cachexia.messages import add_message_commands, run_message_command
from cachexia.rejections import add_rejection_commands, run_rejection_command
from cachexia.sources import add_source_commands, run_source_command
from cachexia.terminal import terminal_safe_output
from cachexia.tokens import add_token_commands, check_token_arguments, run_token_command
from shared.jsonlog import configure_logging
from shared.secrets import SubjectKeyError, existing_subject_hmac_key, subject_hmac_key
from shared.settings import SERVICE_NAMES, PlatformSettings, load_settings

# the services that hash hospital identifiers: only they need (and should be given) the key
SERVICES_WITH_SUBJECT_KEY = frozenset({"lab-ingestion"})
# the operator commands that hash ids (a sender's message id, result keys) to find or store them
COMMANDS_WITH_SUBJECT_KEY = frozenset({"message", "replay"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cachexia", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the whole platform in this terminal")
    service = commands.add_parser("service", help="run one service")
    service.add_argument("name", choices=SERVICE_NAMES)
    commands.add_parser("migrate", help="apply every service's pending migrations")
    add_token_commands(commands)
    add_source_commands(commands)
    add_rejection_commands(commands)
    add_message_commands(commands)
    args = parser.parse_args(argv)
    check_token_arguments(parser, args)
    settings = load_settings()
    if args.command in ("up", "service"):  # logs (JSON lines, escaped) and our own banner
        return _answered(args, settings)
    # the operator commands print what came from the network: never as terminal controls
    with terminal_safe_output():
        return _answered(args, settings)


def _answered(args: argparse.Namespace, settings: PlatformSettings) -> int:
    try:
        return _run(args, settings)
    except SubjectKeyError as error:
        sys.stderr.write(f"cachexia: {error}\n")
        return EXIT_USAGE
    except InfrastructureError as error:  # unreachable or malformed: one line, no traceback
        sys.stderr.write(f"cachexia: {error}\n")
        return error.exit_code


def _run(args: argparse.Namespace, settings: PlatformSettings) -> int:
    # before anything starts: no key, or an unusable key file, stops us here. Only `up` may
    # create the key (another command run elsewhere would hash under a key of its own), and
    # creates it once its ports are found free and the embedded servers started (up.py)
    if args.command == "up":
        existing_subject_hmac_key(settings)
    elif args.command in COMMANDS_WITH_SUBJECT_KEY or (
        args.command == "service" and args.name in SERVICES_WITH_SUBJECT_KEY
    ):
        subject_hmac_key(settings)
    if args.command == "up":
        from cachexia.up import run_platform  # noqa: PLC0415 - keeps `service` start-up lean

        return run_platform(settings)
    if args.command == "service":
        return run_service(args.name, settings)
    return asyncio.run(_run_operation(args, settings))


async def _run_operation(args: argparse.Namespace, settings: PlatformSettings) -> int:
    """The commands that work on the platform's database and end."""
    if args.command == "migrate":
        return await _migrate(settings)
    if args.command == "source":
        return await run_source_command(settings, args)
    if args.command in ("rejection", "replay"):
        return await run_rejection_command(settings, args)
    if args.command == "message":
        return await run_message_command(settings, args)
    return await run_token_command(settings, args)


def run_service(name: str, settings: PlatformSettings) -> int:
    # imported here, not at the top: the other commands need not load every service
    from cachexia.services import service_definition  # noqa: PLC0415 - see above
    from cachexia.supervision import end_with_supervisor  # noqa: PLC0415 - see above
    from shared.listening import ListenError  # noqa: PLC0415 - see above
    from shared.runtime import BackgroundTaskFailed, ServiceRuntime  # noqa: PLC0415 - see above

    configure_logging(name, settings.log_level)
    end_with_supervisor()  # started by `cachexia up`: ends with it, even when it is killed
    runtime = ServiceRuntime(service_definition(name), settings)
    try:
        asyncio.run(runtime.run())
    except BackgroundTaskFailed:  # logged by the runtime; the supervisor restarts us
        return EXIT_FAILURE
    except ListenError as error:  # a port in use, or not this machine's: a setting to correct
        raise InfrastructureError(str(error), EXIT_USAGE) from None
    return 0


async def _migrate(settings: PlatformSettings) -> int:
    from cachexia.platform import migrate_all  # noqa: PLC0415 - keeps `service` start-up lean

    for service, applied in (await migrate_all(settings)).items():
        sys.stdout.write(f"{service}: {len(applied)} applied\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
