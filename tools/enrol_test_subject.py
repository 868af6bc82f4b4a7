"""Development only: enrol a test subject on a platform `make run` started, as dose-decision
will, so that results sent for its hospital number are stored end to end.

In a trial, subjects are enrolled through dose-decision (``POST /v1/subjects``, SPEC section
3), which is not built yet. Until it is, this publishes one ``SubjectEnrolled`` event on
``trial.subjects.v1`` (the hospital number only as its keyed hash, under the platform's key)
to the embedded broker. It refuses an external broker or database: on a trial's platform
every service would match results for that hospital number to the test subject.

    PYTHONPATH=. .venv/bin/python tools/enrol_test_subject.py S-001 MRN123 --site CH-01

It reads the same settings as `make run` (``CACHEXIA_EMBEDDED_KAFKA_PORT``,
``CACHEXIA_DATA_DIR`` for the key, ...): export the ones you changed. Like every process
that hashes hospital identifiers, it first compares its key with the fingerprint the
platform recorded in its database (``shared.key_fingerprint``), and stops on a difference:
under another key the subject would match none of its results (review 156).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from cachexia.errors import InfrastructureError
from cachexia.platform import connect_platform
from shared.contracts.envelope import make_envelope
from shared.contracts.events.trial import SubjectEnrolled
from shared.contracts.identity import hospital_id_hmac
from shared.key_fingerprint import check_key_fingerprint
from shared.secrets import SubjectKeyError, subject_hmac_key, subject_key_origin
from shared.settings import PlatformSettings, load_settings

TOPIC = "trial.subjects.v1"


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subject_id", help="the trial's subject id, e.g. S-001")
    parser.add_argument("hospital_number", help="the number the lab sends in PID-3")
    parser.add_argument("--site", default="CH-01", help="the subject's trial site")
    parser.add_argument("--time-zone", default="Europe/Zurich", help="the site's IANA zone")
    parser.add_argument(
        "--day1", type=dt.date.fromisoformat, default=None, help="study day 1 (default: today)"
    )
    return parser.parse_args(argv)


def enrolment(args: argparse.Namespace, key: bytes) -> bytes:
    now = dt.datetime.now(dt.UTC)
    payload = SubjectEnrolled(
        site_id=args.site,
        site_timezone=args.time_zone,
        hospital_id_hmac=hospital_id_hmac(key, args.hospital_number),
        enrolled_at=now,
        day1=args.day1 or now.date(),
    )
    envelope = make_envelope(payload, producer="dose-decision", subject_id=args.subject_id)
    return envelope.to_bytes()


class PlatformNotUp(Exception):
    """The broker answers but has no subjects topic, or the database has no record of the
    key: the platform never started on them."""


async def check_key(settings: PlatformSettings, key: bytes) -> None:
    """The services' check (``check_key_fingerprint``), as an operator command makes it: the
    key compared with the one the platform recorded, never recorded here; SubjectKeyMismatch
    on a difference, SubjectKeyError when none is recorded yet."""
    conn = await connect_platform(settings)
    try:
        await check_key_fingerprint(conn, key, subject_key_origin(settings), record=False)
    except asyncpg.UndefinedTableError:  # not migrated: the platform never started on it
        raise PlatformNotUp(
            "the database has no record of the platform's patient-matching key: start `make run`"
        ) from None
    finally:
        await conn.close()


async def enrol(settings: PlatformSettings, args: argparse.Namespace, key: bytes) -> None:
    """Check the key, then publish the enrolment hashed under it."""
    await check_key(settings, key)
    await publish(settings.kafka_servers, args.subject_id, enrolment(args, key))


async def publish(servers: str, subject_id: str, event: bytes) -> None:
    """Send the event keyed by subject, to the topic the platform created (a topic created
    by the send itself would get the broker's partition count, not the platform's)."""
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", request_timeout_ms=5000)
    try:  # stopped when its start fails too (a broker not there): else "Unclosed ..." at exit
        await producer.start()
        await producer.client.force_metadata_update()
        if TOPIC not in producer.client.cluster.topics():
            raise PlatformNotUp(f"the broker at {servers} has no {TOPIC}: start `make run`")
        await producer.send_and_wait(TOPIC, event, key=subject_id.encode())
    finally:
        await producer.stop()


def main(argv: list[str]) -> int:
    args = arguments(argv)
    settings = load_settings()  # a bad variable: named on stderr, exit 2 (no traceback)
    if not (settings.uses_embedded_kafka and settings.uses_embedded_postgres):
        print("refused: only for a platform `make run` started (embedded broker and database)")
        return 2
    try:
        ZoneInfo(args.time_zone)
        asyncio.run(enrol(settings, args, subject_hmac_key(settings)))
    except (SubjectKeyError, ZoneInfoNotFoundError, ValueError, PlatformNotUp) as error:
        print(f"refused: {error}")  # another key than the platform's: SubjectKeyMismatch
        return 2
    except InfrastructureError as error:  # PostgreSQL not reached, or refusing us
        print(error)
        return error.exit_code
    except (KafkaError, OSError) as error:
        print(f"the broker at {settings.kafka_servers} did not take it: {type(error).__name__}")
        return 1
    print(
        f"enrolled {args.subject_id} (site {args.site}) on {TOPIC}; the services match the "
        "hospital number given within a second"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
