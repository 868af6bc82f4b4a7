"""`cachexia rejection list`: its times carry their zone, and `--since` takes what it lists,
a date alone, or a time without an offset (UTC); anything else is one clear error."""

from __future__ import annotations

import argparse
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cachexia.rejections import (
    add_rejection_commands,
    format_moment,
    parse_moment,
    run_rejection_command,
)
from services.lab_ingestion.adapters import rejections as rejection_store
from services.lab_ingestion.domain.records import KeptRejection

RECEIVED = datetime(2026, 12, 4, 3, 29, 48, 500_000, tzinfo=timezone(timedelta(hours=1)))
KEPT = KeptRejection(
    rejection_id=uuid.uuid4(),
    channel="mllp",
    source="NEW^HOSP",
    control_id="NEW-1",
    reason_code="unknown-source",
    reason="not on the allow-list",
    payload="MSH|...",
    received_at=RECEIVED,
    patient_hmac=None,
    content_digest=None,
    replayed_at=None,
    replay_outcome=None,
)


def list_arguments(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cachexia")
    add_rejection_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["rejection", "list", *argv])


class OneRejection:
    """The store, holding one rejection received at ``RECEIVED``."""

    def __init__(self, _: object) -> None:
        pass

    async def newest(self, **_: Any) -> list[KeptRejection]:
        return [KEPT]

    async def count(self, **_: Any) -> int:
        return 1


class NoStatements:
    """The connection: the store above sends no statement; its snapshot is taken."""

    @contextlib.asynccontextmanager
    async def transaction(self, **_: Any) -> AsyncIterator[None]:
        yield None


class NoConnection:
    """The pool: the store above needs no connection."""

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[NoStatements]:
        yield NoStatements()

    async def close(self) -> None:
        pass


async def test_the_listing_shows_utc_times_that_since_takes_back(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rejection_store, "RejectionStore", OneRejection)
    monkeypatch.setattr("cachexia.schema_check.check_schema_current", _nothing)
    monkeypatch.setattr("shared.db.pool.create_pool", _no_connection)
    settings: Any = SimpleNamespace(postgres_dsn="unused")  # read by the replaced pool only
    assert await run_rejection_command(settings, list_arguments("--limit", "1")) == 0
    line = capsys.readouterr().out
    listed = " ".join(line.split()[1:3])
    assert listed == "2026-12-04 02:29:48Z"
    assert list_arguments("--since", listed).since == RECEIVED.replace(microsecond=0)


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("2026-12-04", datetime(2026, 12, 4, tzinfo=UTC)),
        ("2026-12-04 08:00", datetime(2026, 12, 4, 8, tzinfo=UTC)),
        ("2026-12-04T08:00:30", datetime(2026, 12, 4, 8, 0, 30, tzinfo=UTC)),
        ("2026-12-04T08:00+01:00", datetime(2026, 12, 4, 7, tzinfo=UTC)),
        ("2026-12-04T08:00Z", datetime(2026, 12, 4, 8, tzinfo=UTC)),
    ],
)
def test_since_takes_a_date_or_a_time_with_or_without_offset(given: str, meant: datetime) -> None:
    assert list_arguments("--since", given).since == meant


@pytest.mark.parametrize("given", ["yesterday", "04/12/2026", "2026-12-04 25:00", ""])
def test_anything_else_is_one_clear_error(given: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        list_arguments("--since", given)
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{given!r} is not a time; use ISO 8601" in error


def test_the_help_says_a_time_without_an_offset_is_utc(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        list_arguments("--help")
    assert "taken as UTC" in " ".join(capsys.readouterr().out.split())


async def _nothing(*_: object) -> None:
    return None


async def _no_connection(*_: object, **__: object) -> NoConnection:
    return NoConnection()


def test_a_misspelt_reason_code_is_a_usage_error_naming_the_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Review 69: `--reason unknown-sorce` listed nothing and exited 0, read as "none"."""
    assert list_arguments("--reason", "unknown-source").reason == "unknown-source"
    with pytest.raises(SystemExit) as exited:
        list_arguments("--reason", "unknown-sorce")
    assert exited.value.code == 2
    assert "unknown-source" in capsys.readouterr().err


@given(
    moment=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
    offset_minutes=st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
def test_since_is_a_utc_time_or_a_usage_error(moment: datetime, offset_minutes: int) -> None:
    """Review 214: ``9999-12-31T23:30-01:00`` (the year 10000 in UTC) was taken, and the
    query failed on it with a traceback. Every time written with an offset is now either the
    same instant in UTC or refused here as out of range."""
    written = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes))).isoformat()
    try:
        utc = datetime.min.replace(tzinfo=UTC) + (
            moment - datetime.min - timedelta(minutes=offset_minutes)
        )
    except OverflowError:
        utc = None
    if utc is None or not datetime.min <= utc.replace(tzinfo=None) <= datetime.max:
        with pytest.raises(argparse.ArgumentTypeError, match="is out of range: in UTC"):
            parse_moment(written)
        return
    taken = parse_moment(written)
    assert taken == utc and taken.utcoffset() == timedelta(0)
    assert parse_moment(format_moment(taken)) == taken.replace(microsecond=0)


@pytest.mark.parametrize("given", ["9999-12-31T23:30-01:00", "0001-01-01T00:30+01:00"])
def test_a_time_beyond_the_calendar_in_utc_is_one_clear_error(
    given: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        list_arguments("--since", given)
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(f"{given!r} is out of range: in UTC it falls outside the years 1 to 9999")
