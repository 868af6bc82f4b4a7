"""`cachexia source add`: settings are checked before anything is stored."""

from __future__ import annotations

import argparse

import asyncpg
import pytest

from cachexia.cli import main
from cachexia.sources import _NOTES, _add, add_source_commands
from services.lab_ingestion.service_layer.sender_admin import SenderNote
from tests.unit.lab_ingestion.sender_admin_fakes import FakeAllowList, FakeSenderAdminUnitOfWork

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


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused sender must be refused before anything is connected to or stored."""

    async def connect(*args: object, **kwargs: object) -> None:
        raise AssertionError("connected to the database")

    monkeypatch.setattr(asyncpg, "connect", connect)


@pytest.mark.parametrize(
    ("application", "facility", "refused"),
    [
        ("", "HOSP", "--application"),
        ("   ", "HOSP", "--application"),
        ("LIS", "", "--facility"),
        ("LIS", "  ", "--facility"),
        ("LIS^1.2.3^ISO", "HOSP", "--application"),  # only MSH-3's first component is read
        ("LIS", "HOSP^2.16.756^ISO", "--facility"),
    ],
)
def test_a_sender_that_could_never_match_is_refused(
    application: str,
    facility: str,
    refused: str,
    no_database: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["source", "add", "--application", application, "--facility", facility])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {refused}" in err
    assert "without '^'" in err


def _add_args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_source_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args([*SENDER, *extra])


async def _added(monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    """``source add`` with the allow-list's table stood in for: the sender as given (the
    authority's names given as ``names``)."""
    uow = FakeSenderAdminUnitOfWork(FakeAllowList(sites={"CH-01"}))
    added = await _add(uow, _add_args(*extra))
    _names_given[:] = uow.sources.authorities or ()
    return added


_names_given: list[str] = []  # the authority's names the last ``_added`` stored


async def test_source_add_warns_that_a_sender_without_a_site_is_matched_against_every_site(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _added(monkeypatch) == 0
    err = capsys.readouterr().err
    assert "warning: without --site" in err and "every site's subjects" in err
    assert await _added(monkeypatch, "--site", "CH-01") == 0
    assert "without --site" not in capsys.readouterr().err


async def test_source_add_takes_every_name_of_the_senders_authority(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One authority written HOSP in HL7 and urn:hosp in FHIR (review 69): both names, in
    order, blank ones left out; listed as the sender's."""
    names = ["--identifier-authority", "HOSP", "--identifier-authority", " urn:hosp "]
    assert await _added(monkeypatch, "--site", "CH-01", *names, "--identifier-authority", "") == 0
    assert _names_given == ["HOSP", "urn:hosp"]
    out, err = capsys.readouterr()
    assert "; patients matched by numbers of HOSP (also written urn:hosp)\n" in out
    assert "without --identifier-authority" not in err
    assert await _added(monkeypatch, "--site", "CH-01", "--identifier-authority", "HOSP") == 0
    assert _names_given == ["HOSP"]
    assert out_line(capsys).endswith("; patients matched by numbers of HOSP")
    assert await _added(monkeypatch, "--site", "CH-01") == 0  # none given: those kept stay
    assert _names_given == []
    assert "without --identifier-authority" in capsys.readouterr().err


def out_line(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.rstrip("\n")


def test_names_given_and_forgotten_at_once_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--identifier-authority", "HOSP", "--identifier-authority", "urn:hosp"]
    with pytest.raises(SystemExit) as exit_:
        main([*SENDER, *args, "--no-identifier-authority"])
    assert exit_.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_every_note_of_source_add_is_worded() -> None:
    assert set(_NOTES) == {note.value for note in SenderNote}
