"""`cachexia token create | list | revoke`: API tokens, of which only digests are kept."""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from shared.auth import Role, TokenRecord, issue_token, list_tokens, revoke_tokens
from shared.settings import PlatformSettings
from shared.site_ids import site_id_problem


def add_token_commands(commands: Any) -> None:
    """``commands``: the subparsers of the ``cachexia`` command."""
    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="create a token (printed once)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True, type=_name)
    create.add_argument(
        "--sender", action="append", type=sender, dest="senders", metavar="APPLICATION^FACILITY",
        help="a lab token may deliver results only as this sender (MSH-3^MSH-4, or a JSON "
        "body's source); repeat for several; without it, as any sender",
    )  # fmt: skip
    create.add_argument(
        "--site", type=site, metavar="SITE",
        help="the trial site whose subjects a site token reads (as enrolments name it, e.g. "
        "CH-01); required for --role site, refused for the other roles",
    )  # fmt: skip
    token_commands.add_parser(
        "list", help="every token's id, name, role, senders or site, and state"
    )
    revoke = token_commands.add_parser("revoke", help="revoke tokens (refused within 30 s)")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=uuid.UUID, dest="token_id", help="one token (see list)")
    which.add_argument("--name", help="every token in use under this name")


def check_token_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if getattr(args, "senders", None) and args.role != Role.LAB.value:
        parser.error("--sender binds a lab token: use it with --role lab")
    if getattr(args, "token_command", None) != "create":
        return
    if args.site is not None and args.role != Role.SITE.value:
        parser.error("--site binds a site token to its site's subjects: use it with --role site")
    if args.site is None and args.role == Role.SITE.value:
        parser.error(
            "a site token reads only its own site's subjects: name the site with --site SITE "
            "(e.g. --site CH-01)"
        )


async def run_token_command(settings: PlatformSettings, args: argparse.Namespace) -> int:
    from cachexia.platform import connect_platform  # noqa: PLC0415 - keeps start-up lean
    from cachexia.schema_check import check_schema_current  # noqa: PLC0415 - likewise

    # the tokens' schema (and lab-ingestion's allow-list the senders are checked against, its
    # enrolments the site is) at this version's migrations: never migrated here
    reads_lab = args.token_command == "create" and (args.senders or args.site)  # noqa: S105 - a command's name
    await check_schema_current(settings, ["lab-ingestion"] if reads_lab else [])
    conn = await connect_platform(settings)
    try:
        command = args.token_command
        if command == "list":
            return _print_tokens(await list_tokens(conn))
        if command == "revoke":
            return _report_revoked(
                await revoke_tokens(conn, name=args.name, token_id=args.token_id)
            )
        if args.senders and (unlisted := await _unlisted(conn, args.name, args.senders)):
            return _refuse_unlisted(unlisted)
        issued = await issue_token(conn, args.name, Role(args.role), args.senders, site=args.site)
        known = await _sites_with_subjects(conn) if args.site is not None else None
    finally:
        await conn.close()
    sys.stdout.write(f"{issued.token}\n")
    sys.stderr.write(
        f"Token id {issued.token_id}. Keep this token now: only its hash is stored; it cannot "
        "be shown again.\n"
    )
    if known is not None and args.site not in known:
        sys.stderr.write(
            SITE_WITHOUT_SUBJECTS.format(site=args.site, known=", ".join(known) or "none yet")
        )
    if args.role == Role.LAB.value and not args.senders:
        sys.stderr.write(
            "This lab token may deliver results under any sender's name; bind it to its "
            "senders with --sender APPLICATION^FACILITY.\n"
        )
    return 0


# as `source add --site` warns (cachexia.sources): a misspelt site reads nothing, unannounced
SITE_WITHOUT_SUBJECTS = (
    "warning: no subject of site {site} is enrolled (sites with subjects: {known}); the "
    "token reads that site's subjects only: check the name\n"
)


async def _sites_with_subjects(conn: Any) -> list[str]:
    """The sites with an enrolled subject, sorted: ``source add``'s check (lab-ingestion's
    copy of the subject directory)."""
    from services.lab_ingestion.adapters.sources import enrolled_sites  # noqa: PLC0415 - lean start-up

    return sorted(await enrolled_sites(conn))


async def _unlisted(conn: Any, name: str, senders: list[str]) -> list[str]:
    from services.lab_ingestion.adapters.sources import allowed_senders  # noqa: PLC0415 - lean start-up

    return unlisted_senders(name, senders, await allowed_senders(conn))


def unlisted_senders(name: str, senders: list[str], allowed: set[tuple[str, str]]) -> list[str]:
    """The senders a lab token is to be bound to that are not on the allow-list: it would be
    refused as them (their site would not scope its patients). ``<name>^FHIR``, the sender
    its FHIR is kept under, needs no allow-listing."""
    from services.lab_ingestion.service_layer.senders import FHIR_FACILITY  # noqa: PLC0415 - lean

    return [
        s for s in senders
        if s != f"{name}^{FHIR_FACILITY}" and tuple(s.split("^", 1)) not in allowed
    ]  # fmt: skip


def _refuse_unlisted(unlisted: list[str]) -> int:
    sys.stderr.write(
        f"not on the allow-list: {', '.join(unlisted)}; a lab token delivers only as senders "
        "on it (their site scopes its patients): add each first (cachexia source add "
        "--application APPLICATION --facility FACILITY --site SITE); no token was created\n"
    )
    return 1


def sender(text: str) -> str:
    """APPLICATION^FACILITY, both parts present (as HL7 MSH-3^MSH-4 and JSON sources)."""
    application, caret, facility = text.partition("^")
    if not caret or not is_sender_part(application) or not is_sender_part(facility):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected APPLICATION^FACILITY, e.g. LIS^HOSP, each part without "
            f"{SENDER_DELIMITERS_SHOWN}"
        )
    return f"{application.strip()}^{facility.strip()}"


# HL7's field, component, repetition, escape and sub-component separators: a name holding
# one can never be read from MSH-3 or MSH-4 as written (``LAB&1`` is read as ``LAB``)
SENDER_DELIMITERS = "|^~\\&"
SENDER_DELIMITERS_SHOWN = "'^', '&', '~', '|' or '\\'"


def is_sender_part(text: str) -> bool:
    """An application or facility a sender can be known by: not blank, and without HL7's
    separators (``SENDER_DELIMITERS``): a name holding one never matches a message (MSH-3
    and MSH-4 are read as one value: their namespace id, else their universal id)."""
    return bool(text.strip()) and not any(c in text for c in SENDER_DELIMITERS)


def site(text: str) -> str:
    """A trial site's id as enrolments name it (``shared.site_ids``), spaces at its ends
    dropped."""
    if (problem := site_id_problem(text.strip())) is not None:
        raise argparse.ArgumentTypeError(problem)
    return text.strip()


def _name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a token needs a name (e.g. the laboratory's)")
    return text.strip()


def _print_tokens(tokens: list[TokenRecord]) -> int:
    for t in tokens:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M %Z}" if t.revoked_at else "in use"
        sys.stdout.write(
            f"{t.token_id}  {t.role.value:<9} {t.name!r}  created {t.created_at:%Y-%m-%d %H:%M %Z}"
            f"  {state}{_binding(t)}\n"
        )
    return 0


def _binding(token: TokenRecord) -> str:
    """What a lab token delivers as, or whose subjects a site token reads."""
    if token.role is Role.LAB:
        return "  senders: " + (
            ",".join(token.senders) if token.senders is not None else "any sender"
        )
    if token.role is Role.SITE:
        return f"  site: {token.site}" if token.site is not None else f"  site: none ({NO_SITE})"
    return ""


# a site token created before tokens named their site (auth migration 0003) reads nothing
NO_SITE = "reads no subject: create a new one with --site"


def _report_revoked(revoked: int) -> int:
    if not revoked:
        sys.stderr.write("no such token in use\n")
        return 1
    sys.stdout.write(f"{revoked} token(s) revoked; services refuse them within 30 s\n")
    return 0
