"""`cachexia source add`: settings are checked before anything is stored."""

from __future__ import annotations

import pytest

from cachexia.cli import main

SENDER = ["source", "add", "--application", "LIS", "--facility", "HOSP"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--site", "CH-01", "--no-site"], "not allowed with argument"),
        (["--identifier-authority", "H", "--no-identifier-authority"], "not allowed with"),
        (["--time-zone", "Europe/Zurich", "--no-time-zone"], "not allowed with"),
        (["--time-zone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["--time-zone", "Europe"], "unknown time zone 'Europe'"),  # a directory of zones
        (["--time-zone", "A" * 300], "unknown time zone"),
    ],
)
def test_a_setting_given_and_forgotten_at_once_or_an_unknown_zone_is_refused(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*SENDER, *extra])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_remove_names_the_sender(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["source", "remove", "--application", "LIS"])
    assert "--facility" in capsys.readouterr().err
