"""A birth date written otherwise than as HL7's ``YYYYMMDD`` (review 108): PID-7 (and
NK1-16, GT1-8, IN1-18) as converters from FHIR and web forms write it (``1958-02-14``,
``14.02.1958``, ``1958/02/14``) is read as the date it is, and its copies are searched for
in every spelling ``secret_spellings.date_spellings`` lists; before, it was blanked in its field and
kept everywhere else."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import redact
from services.lab_ingestion.adapters.secret_spellings import date_spellings, written_dates
from tests.unit.lab_ingestion.hl7_samples import FAST, fake_hash, join, msh, seg

NOTE_SPELLINGS = ("14.02.1958", "1958-02-14", "1958/02/14", "14.2.1958", "14.02.58",
                  "14/02/1958", "14-02-1958", "02/14/1958", "19580214")  # fmt: skip

FORMS = ["%Y%m%d", "%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%Y", "%m/%d/%Y",
         "%Y%m%d%H%M"]  # fmt: skip


def _kept_note(segments: list[str], note: str) -> str:
    text = join([msh(), *segments, seg("NTE", {1: "1", 3: note})])
    return redact(text, fake_hash).split("\r")[-1]


def _pid(birth: str) -> str:
    return seg("PID", {1: "1", 3: "MRN4711^^^HOSP^MR", 5: "HUBERMANN^ROSWITHA", 7: birth})


@pytest.mark.parametrize(
    "birth",
    ["19580214", "195802140800+0100", "1958-02-14", "1958-02-14T08:00:00+01:00",
     "1958/02/14", "14.02.1958", "14.2.1958", "14-02-1958", "14/02/1958", "02/14/1958"],
)  # fmt: skip
def test_pid7_in_any_common_form_is_searched_for_in_every_spelling(birth: str) -> None:
    kept = _kept_note([_pid(birth)], f"geb. {birth}; " + ", ".join(NOTE_SPELLINGS))
    assert kept == "NTE|1||geb. [redacted]; " + ", ".join(["[redacted]"] * len(NOTE_SPELLINGS))


@pytest.mark.parametrize(
    ("segment", "field"), [("NK1", 16), ("GT1", 8), ("IN1", 18)], ids=["NK1", "GT1", "IN1"]
)
def test_another_persons_birth_date_in_another_form_is_searched_for_too(
    segment: str, field: int
) -> None:
    other = seg(segment, {1: "1", 2: "X", field: "1949-11-02"})
    kept = _kept_note([_pid("19580214"), other], "Angehoerige geb. 02.11.1949")
    assert kept == "NTE|1||Angehoerige geb. [redacted]"


def test_a_date_written_with_slashes_is_read_both_ways_when_it_can_be() -> None:
    """``02/03/1958``: 2 March (day first) or 3 February (month first); both are searched."""
    assert written_dates("02/03/1958") == [("1958", "03", "02"), ("1958", "02", "03")]
    kept = _kept_note([_pid("02/03/1958")], "2.3.1958 or 3.2.1958")
    assert kept == "NTE|1||[redacted] or [redacted]"


@pytest.mark.parametrize("value", ["1958", "195802", "58-02-14", "14.02.19588", "13/13/1958",
                                   "1958-13-01", "00.02.1958", "unknown", ""])  # fmt: skip
def test_what_is_no_date_is_not_read_as_one(value: str) -> None:
    assert written_dates(value) == []


def test_lab_values_and_other_dates_of_a_note_are_kept() -> None:
    """A date form is distinctive (a separator, or eight digits); a value is none of them:
    ``14.02`` and ``14.2`` stay, and so does another day's date, or the birth date run
    into another (``114.02.58``, ``14.2.19585``)."""
    note = "CRP 14.02 mg/L, Hb 14.2, 1958, 02/14, 15.02.1958, 114.02.58, 14.2.19585"
    assert _kept_note([_pid("1958-02-14")], note) == f"NTE|1||{note}"


@FAST
@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)),
    form=st.sampled_from(FORMS),
    spelling=st.integers(min_value=0, max_value=8),
)
def test_any_birth_date_in_any_form_is_gone_in_every_spelling(
    birth: date, form: str, spelling: int
) -> None:
    written = date_spellings(f"{birth.year:04d}", f"{birth.month:02d}", f"{birth.day:02d}")
    copy = written[spelling % len(written)]
    kept = _kept_note([_pid(birth.strftime(form))], f"DOB {copy} ok")
    assert kept == "NTE|1||DOB [redacted] ok"
