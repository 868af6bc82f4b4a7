"""Review 120: a birth date written with a two-digit year (``14 Feb 58``) was kept verbatim in
a note when a German, French, Italian or English abbreviation of one letter followed it
(``u.`` und, ``s.`` siehe, ``h.`` Herr, ``l.`` links) or a bare slash (``14-FEB-58/ female``):
those were read as units, so the date as a value. Only a real unit word after the number
(mg/L, g/dL, mmol/L, U/L, ukat/L, x10^9/L, /uL, %, ...) makes the two digits a value."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.scrub import REDACTED
from tests.unit.lab_ingestion.test_kept_copy_word_dates_and_phones import (
    COPIES,
    DATES,
    MONTHS,
)

BIRTH = dt.date(1958, 2, 14)
UNITS = [
    "mg/L", "mg/dl", "mg/dL", "mmol/l", "µmol/L", "umol/L", "nmol/L", "g/L", "g/dl", "U/L",
    "IU/L", "UI/L", "mU/L", "ukat/L", "µkat/L", "%", "x10^9/L", "x 10*9/L", "10*9/L", "10^9/L",
    "G/L", "/uL", "/µl", "mL/min", "ml/min/1.73m2", "mm/h", "pg", "mmHg", "units",
    "mmol", "mg",
]  # fmt: skip
# alone, two letters that are a name's initials as often as a unit (review 122): the date stays
INITIALS = ["MM", "CM", "ML", "DL", "UI", "KG", "FL", "IU", "min."]
WORDS = [
    "u. wohnhaft in Bern", "s. Vorbefund", "h. Meier", "l. Arm", "r. Knie", "d. h. ok",
    "/ female", "/ 65 y", "/F", "/ m", "u wohnhaft", "s Vorbefund", "m", "w", "J.", "a.",
    "à Genève", "e residente a Lugano", "und", "Mutter", "seen", "née Müller", "Jahre",
    "geb.", "z. B.", "v. a.", "i. v.", "p. o.", "o. B.", "St. Gallen", "Sig.", "Dr. med.",
]  # fmt: skip


@pytest.mark.parametrize(
    "note",
    ["Pat. geb. 14 Feb 58 u. wohnhaft in Bern", "DOB 14-FEB-58/ female",
     "DOB 14-FEB-58 / 65 y", "geb. 14. Feb. 58 s. Vorbefund", "born 14 Feb 58 h. Meier",
     "DOB 14 Feb 58 l. Arm"],
)  # fmt: skip
def test_the_birth_dates_of_the_review_are_scrubbed(note: str) -> None:
    for copy in COPIES:
        kept = copy(BIRTH, note)
        assert REDACTED in kept and "58" not in kept, (copy, note, kept)


@pytest.mark.parametrize("unit", UNITS)
def test_two_digits_before_a_real_unit_stay_a_value(unit: str) -> None:
    for note in (f"CRP 14 Feb 58 {unit}", f"14 Feb 58{unit}", f"CRP 14 Feb, 58 {unit}"):
        for copy in COPIES:
            assert copy(BIRTH, note) == note, (copy, note)


@st.composite
def two_digit_date(draw: st.DrawFn, date: dt.date) -> str:
    """``date`` with its month in words and a two-digit year (no comma before it)."""
    month = draw(st.sampled_from(MONTHS[date.month])).rstrip(".")
    day = draw(st.sampled_from([str(date.day), f"{date.day:02d}"]))
    form = draw(st.sampled_from(["{d} {m} {y}", "{d}. {m}. {y}", "{d}-{m}-{y}", "{m} {d} {y}"]))
    return form.format(d=day, m=month, y=f"{date.year % 100:02d}")


# letters that begin no unit word (mg, mmol, ukat, IU, dL, fL, sec, cm, kg, G/L, x10 ...)
_PLAIN = "abehjoqrtvwyzäöüé"


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    birth=DATES,
    copy=st.sampled_from(COPIES),
    after=st.one_of(
        st.sampled_from(WORDS),
        # any single letter with a dot, as an abbreviation is written
        st.builds(lambda c, sep: f"{sep}{c}. x", st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
                  st.sampled_from([" ", ""])),
        # any word of letters that begin no unit
        st.text(alphabet=_PLAIN, min_size=1, max_size=12),
        st.builds(lambda w: f"/ {w}", st.text(alphabet=_PLAIN, min_size=1, max_size=8)),
    ),
)  # fmt: skip
def test_a_birth_date_followed_by_a_word_is_scrubbed(
    data: st.DataObject, birth: dt.date, copy: object, after: str
) -> None:
    written = data.draw(two_digit_date(birth))
    sep = "" if after.startswith(("/", " ")) else " "
    kept = copy(birth, f"geb. {written}{sep}{after}")  # type: ignore[operator]
    assert kept.startswith(f"geb. {REDACTED}"), (written, after, kept)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), birth=DATES, copy=st.sampled_from(COPIES), unit=st.sampled_from(UNITS))
def test_a_two_digit_year_followed_by_a_real_unit_is_kept(
    data: st.DataObject, birth: dt.date, copy: object, unit: str
) -> None:
    note = f"CRP {data.draw(two_digit_date(birth))} {unit}"
    assert copy(birth, note) == note  # type: ignore[operator]


@pytest.mark.parametrize("initials", INITIALS)
def test_a_birth_date_before_initials_that_spell_a_unit_is_redacted(initials: str) -> None:
    """Review 122: `geb. 14 Feb 58 MM` kept the birth date (MM read as millimetres)."""
    for copy in COPIES:
        kept = copy(BIRTH, f"geb. 14 Feb 58 {initials} (Visum)")
        assert "58" not in kept and "Feb" not in kept, (copy, kept)
