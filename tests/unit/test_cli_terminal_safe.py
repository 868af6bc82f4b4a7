"""The operator commands never hand the network's control characters to a terminal
(review 132: an MSH-3 holding ESC sequences set the window title and hid lines of
`cachexia rejection list`)."""

from __future__ import annotations

import dataclasses
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cachexia import cli
from cachexia.terminal import TerminalSafe, terminal_safe_output, visible
from services.lab_ingestion.adapters import rejections as rejection_store
from tests.unit.test_cli_rejection_since import KEPT, _no_connection, _nothing

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202etxt.exe"


def test_controls_and_reordering_marks_are_written_visibly() -> None:
    assert visible(ESCAPES) == "\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\u202etxt.exe"
    assert visible("line\tcolumn\nnext äöü x10\u2079/L") == "line\tcolumn\nnext äöü x10\u2079/L"


@given(st.text())
def test_nothing_a_terminal_acts_on_is_left(text: str) -> None:
    shown = visible(text)
    assert all(
        c in "\n\t" or not (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or 0x202A <= ord(c) <= 0x202E)
        for c in shown
    )


def test_inside_the_guard_both_streams_are_safe_and_restored_after(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with terminal_safe_output():
        sys.stdout.write("out\x1b[2J\n")
        sys.stderr.write("err\x07\n")
    sys.stdout.write("\x1b")
    captured = capsys.readouterr()
    assert captured.out == "out\\x1b[2J\n\x1b"
    assert captured.err == "err\\x07\n"


class EscapingRejection:
    """The store, holding one rejection whose sender name is terminal controls."""

    def __init__(self, _: object) -> None:
        pass

    async def newest(self, **_: Any) -> list[Any]:
        return [dataclasses.replace(KEPT, source="LIS\x1b]0;x\x07^HOSP")]

    async def count(self, **_: Any) -> int:
        return 1


def test_a_listed_senders_escape_sequence_is_shown_not_obeyed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rejection_store, "RejectionStore", EscapingRejection)
    monkeypatch.setattr("cachexia.schema_check.check_schema_current", _nothing)
    monkeypatch.setattr("shared.db.pool.create_pool", _no_connection)
    settings = SimpleNamespace(postgres_dsn="unused")  # read by the replaced pool only
    monkeypatch.setattr(cli, "load_settings", lambda: settings)
    assert cli.main(["rejection", "list", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "LIS\\x1b]0;x\\x07^HOSP" in out
    assert not isinstance(sys.stdout, TerminalSafe)  # restored
