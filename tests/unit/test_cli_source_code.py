"""`cachexia source code add | list [--history] | remove`: what the operator is told, on the
service layer's fakes; input refused is one line and exit 2, a mapping not kept exit 1."""

from __future__ import annotations

import argparse

import asyncpg
import pytest

from cachexia.cli import main
from cachexia.local_codes import LIVE_WITHIN, run_code_command
from cachexia.sources import _list, _remove, add_source_commands
from services.lab_ingestion.adapters.local_code_cache import REFRESH_SECONDS
from services.lab_ingestion.domain.local_codes import LocalCode
from services.lab_ingestion.domain.records import Sender
from tests.unit.lab_ingestion.sender_admin_fakes import (
    FakeAllowList,
    FakeLocalCodes,
    FakeSenderAdminUnitOfWork,
)

SENDER = ("--application", "LIS", "--facility", "HOSP")
CRP = LocalCode("LIS", "HOSP", "L", "CRP", "1988-5")
HB = LocalCode("LIS", "ZH", "", "HB", "718-7")


def _uow(*mappings: LocalCode) -> FakeSenderAdminUnitOfWork:
    senders = {("LIS", "HOSP"): Sender(), ("LIS", "ZH"): Sender()}
    return FakeSenderAdminUnitOfWork(FakeAllowList(senders), codes=FakeLocalCodes.of(*mappings))


async def _code(uow: FakeSenderAdminUnitOfWork, *args: str) -> int:
    parser = argparse.ArgumentParser()
    add_source_commands(parser.add_subparsers(dest="command"))
    return await run_code_command(uow, parser.parse_args(["source", "code", *args]))


async def test_add_says_how_the_code_is_read_and_refuses_another_reading_in_place(
    capsys: pytest.CaptureFixture[str],
) -> None:
    uow = _uow()
    add = ("add", *SENDER, "--code", "CRP", "--system", "l")
    assert await _code(uow, *add, "--loinc", "30522-7") == 0
    new = "LIS^HOSP: local code CRP (system L) is read as LOINC 30522-7 (crp)"
    assert capsys.readouterr().out == f"{new}; live within 2 seconds\n"
    assert await _code(uow, *add, "--loinc", "1988-5") == 2  # never changed in place
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"cachexia: {new}: a mapping is not changed in place")
    assert err.endswith("remove it first (cachexia source code remove), then map the code "
                        "again; no local code was mapped\n")  # fmt: skip
    assert await _code(uow, *add, "--loinc", "30522-7") == 0
    assert capsys.readouterr().out == f"{new}, unchanged\n"
    assert await _code(uow, "add", *SENDER, "--code", "HB", "--loinc", "718-7") == 0
    assert "local code HB (no coding system) is read as" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("application", "code", "system", "refused"),
    [
        ("LIS", "1988-5", "", "'1988-5' is a LOINC code"),
        ("LIS", "CRP~X", "L", "the local code 'CRP~X' holds an HL7 separator"),
        ("LAB", "CRP", "L", "HL7 sender LAB^HOSP is not on the allow-list: add it first "
         "(cachexia source add --application LAB --facility HOSP)"),
    ],
)  # fmt: skip
async def test_add_refused_is_one_line_exit_2_and_nothing_kept(
    application: str, code: str, system: str, refused: str, capsys: pytest.CaptureFixture[str]
) -> None:
    uow = _uow()
    mapping = ("--code", code, "--system", system, "--loinc", "1988-5")
    assert (
        await _code(uow, "add", "--application", application, "--facility", "HOSP", *mapping) == 2
    )
    out, err = capsys.readouterr()
    assert err.startswith(f"cachexia: {refused}") and err.count("\n") == 1
    assert err.endswith("; no local code was mapped\n") and out == ""
    assert uow.codes.kept == {}


def test_add_takes_only_a_sender_that_can_match_and_a_loinc_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def connect(*args: object, **kwargs: object) -> None:
        raise AssertionError("connected to the database")

    monkeypatch.setattr(asyncpg, "connect", connect)
    oid_named = ("--application", "LIS^1.2.3^ISO", "--facility", "HOSP")
    for args, refused in (
        ((*oid_named, "--code", "CRP", "--loinc", "1988-5"), "argument --application"),
        ((*SENDER, "--code", "CRP"), "--loinc"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["source", "code", "add", *args])
        assert exit_.value.code == 2
        assert refused in capsys.readouterr().err


async def test_list_has_a_line_a_mapping_of_every_sender_or_of_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    uow = _uow(CRP, HB)
    assert await _code(uow, "list") == 0
    assert capsys.readouterr().out.splitlines() == [
        "LIS^HOSP             L        CRP              1988-5   crp          "
        "added 2025-03-30 08:15:00Z",
        "LIS^ZH               -        HB               718-7    haemoglobin  "
        "added 2025-03-30 08:15:00Z",
    ]
    assert await _code(uow, "list", "--facility", " ZH ") == 0
    assert capsys.readouterr().out.startswith("LIS^ZH ")
    assert await _code(uow, "list", "--application", "LAB") == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("", "no local code of LAB^* is mapped (cachexia source code add)\n")
    assert await _code(_uow(), "list") == 0
    assert capsys.readouterr().err == "no local code is mapped (cachexia source code add)\n"


async def test_remove_warns_that_the_codes_results_are_no_longer_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    uow = _uow(CRP)
    remove = ("remove", *SENDER, "--code", "CRP", "--system", "L")
    assert await _code(uow, *remove) == 0
    out, err = capsys.readouterr()
    assert out == (
        "LIS^HOSP: local code CRP (system L) is no longer read as LOINC 1988-5 (crp): "
        "removed, within 2 seconds\n"
    )
    assert err.startswith("warning: LIS^HOSP's results of local code CRP (system L) are no ")
    assert err.endswith("to the same LOINC code: under another, a late copy of a result "
                        "cancelled meanwhile would be taken for a new one\n")  # fmt: skip
    assert "corrections and cancellations of results stored under it are left out" in err
    assert "map it again" in err
    assert await _code(uow, *remove) == 1
    out, err = capsys.readouterr()
    assert (out, err) == (
        "",
        "no local code CRP (system L) of LIS^HOSP is mapped (cachexia source code list)\n",
    )


async def test_source_remove_counts_the_mappings_removed_with_the_sender(
    capsys: pytest.CaptureFixture[str],
) -> None:
    uow = _uow(CRP, LocalCode("LIS", "HOSP", "", "HB", "718-7"), HB)
    assert await _remove(uow, "LIS", "HOSP") == 0
    assert "\n2 local code mapping(s) of LIS^HOSP removed with it; map them again" in (
        capsys.readouterr().out
    )
    assert await _remove(_uow(CRP), "LIS", "ZH") == 0  # none mapped: said so (review 116)
    assert "\nLIS^ZH had no local code mappings\n" in capsys.readouterr().out


async def test_source_list_counts_each_senders_mappings(capsys: pytest.CaptureFixture[str]) -> None:
    assert await _list(_uow(CRP, LocalCode("LIS", "HOSP", "", "HB", "718-7"))) == 0
    assert capsys.readouterr().out.splitlines() == [
        "LIS^HOSP  added 2025-03-30 08:15 UTC; 2 local code(s) mapped",
        "LIS^ZH  added 2025-03-30 08:15 UTC",  # none: nothing said
    ]


async def test_a_mapping_kept_to_no_trial_analyte_is_listed_and_removed_as_not_applied(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Kept by hand, or by a version whose tables held its code: the service skips it; the
    commands name it so, and removing it warns of nothing (nothing was read through it)."""
    bilirubin = LocalCode("LIS", "HOSP", "L", "DBIL", "1968-7")  # direct: no trial analyte
    uow = _uow(bilirubin)
    assert await _code(uow, "list") == 0
    assert capsys.readouterr().out.split()[4:6] == ["not", "applied"]
    assert await _code(uow, "remove", *SENDER, "--code", "DBIL", "--system", "L") == 0
    out, err = capsys.readouterr()
    assert out.startswith(
        "LIS^HOSP: local code DBIL (system L) is no longer read as LOINC 1968-7 "
        "(no trial analyte's, not applied): removed"
    )
    assert err == ""


def test_the_commands_say_how_soon_the_service_reads_a_change() -> None:
    assert f"within {REFRESH_SECONDS:g} seconds" == LIVE_WITHIN


async def test_list_history_has_a_line_a_change_oldest_first_of_every_sender_or_of_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dbil = LocalCode("LIS", "HOSP", "L", "DBIL", "1968-7")  # kept by hand: no trial analyte
    uow = _uow(CRP, dbil)  # kept before the record began: as of when they were set
    assert await _code(uow, "add", "--application", "LIS", "--facility", "ZH",
                       "--code", "HB", "--loinc", "718-7") == 0  # fmt: skip
    assert await _code(uow, "remove", *SENDER, "--code", "CRP", "--system", "L") == 0
    capsys.readouterr()
    assert await _code(uow, "list", "--history") == 0
    assert capsys.readouterr().out.splitlines() == [
        "2025-03-30 08:15:00Z  LIS^HOSP             L        CRP              "
        "mapped to 1988-5 (crp)",
        "2025-03-30 08:15:00Z  LIS^HOSP             L        DBIL             "
        "mapped to 1968-7 (not applied)",
        "2025-03-30 08:17:00Z  LIS^ZH               -        HB               "
        "mapped to 718-7 (haemoglobin)",
        "2025-03-30 08:18:00Z  LIS^HOSP             L        CRP              removed",
    ]
    assert await _code(uow, "list", "--history", "--facility", " ZH ") == 0
    assert [line.split()[2] for line in capsys.readouterr().out.splitlines()] == ["LIS^ZH"]
    assert await _code(uow, "list", "--history", "--application", "LAB") == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("", "no change of a local code mapping of LAB^* is recorded\n")
    assert await _code(_uow(), "list", "--history") == 0
    assert capsys.readouterr() == ("", "no change of a local code mapping is recorded\n")


async def test_add_warns_when_the_code_was_read_as_another_loinc_code_before(
    capsys: pytest.CaptureFixture[str],
) -> None:
    uow = _uow()
    crp = ("--code", "CRP", "--system", "L")
    assert await _code(uow, "add", *SENDER, *crp, "--loinc", "30522-7") == 0
    assert await _code(uow, "remove", *SENDER, *crp) == 0
    capsys.readouterr()
    assert await _code(uow, "add", *SENDER, *crp, "--loinc", "1988-5") == 0
    out, err = capsys.readouterr()
    assert out.startswith("LIS^HOSP: local code CRP (system L) is read as LOINC 1988-5 (crp)")
    assert err.startswith("warning: local code CRP (system L) was read as LOINC 30522-7 (set ")
    assert "a late copy of one cancelled since is taken for a new one" in err
