"""The alerts' runbooks send on-call only to commands that exist and do what is said.

Review 69: CachexiaDeadLetters said "re-drive them with `cachexia replay`", which takes only
a lab-ingestion rejection id (nothing in the `cachexia` command reads dead letters): on-call,
paged at severity critical for a dead-lettered result or SAE, was sent to a dead end.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cachexia.cli import main

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def _descriptions() -> dict[str, str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return {
        rule["alert"]: str(rule["annotations"]["description"])
        for group in rules["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def _commands() -> set[tuple[str, ...]]:
    """Every `cachexia ...` a runbook names: its sub-command words (options left out)."""
    named = set()
    for description in _descriptions().values():
        for command in re.findall(r"`cachexia ([^`]+)`", description):
            words = [w for w in command.split() if re.fullmatch(r"[a-z][a-z-]*", w)]
            named.add(tuple(words[:2]))
    return named


@pytest.mark.parametrize("words", sorted(_commands()))
def test_every_command_a_runbook_names_exists(
    words: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*words, "--help"])
    assert exited.value.code == 0, capsys.readouterr().err


def test_the_dead_letter_runbook_shows_where_they_are_and_promises_no_re_drive() -> None:
    description = _descriptions()["CachexiaDeadLetters"]
    assert "dead_letters" in description
    assert "re-drive them with" not in description
    assert "no re-drive command" in description
