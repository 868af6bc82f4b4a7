"""A patient's birth date with its month in words (``14 Feb 1958``, ``14. Februar 1958``,
``February 14, 1958``, ``14 février 1958``, ``14 febbraio 1958``) or as ``D.M.YY``
(``4.2.58``), and a phone number run into letters (``Tel0311234567``), are scrubbed from a
kept copy's free text in HL7, FHIR and JSON copies alike (fix111: they were kept); a
collection date and lab values are not. A date with a short part is found run into an id's
letters, never into its digits (``14.2.1958`` holds ``4.2.1958``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.hl7_redaction import redact
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.scrub import REDACTED, Scrubber
from services.lab_ingestion.adapters.secret_spellings import date_spellings
from services.lab_ingestion.service_layer.kept_copy_text import kept_message_id
from tests.python_steps import python_steps

HASH = "a" * 64
MONTHS = {
    1: ["January", "Jan", "Januar", "Jänner", "janvier", "janv.", "gennaio", "gen."],
    2: ["February", "Feb", "Feb.", "Februar", "Febr.", "février", "févr.", "FEVRIER", "febbraio"],
    3: ["March", "Mar", "März", "Maerz", "mars", "marzo"],
    4: ["April", "Apr.", "avril", "avr.", "aprile"],
    5: ["May", "Mai", "maggio", "mag."],
    6: ["June", "Jun", "Juni", "juin", "giugno"],
    7: ["July", "Jul.", "Juli", "juillet", "juil.", "luglio"],
    8: ["August", "Aug", "août", "aout", "agosto"],
    9: ["September", "Sep", "Sept.", "septembre", "settembre", "sett."],
    10: ["October", "Oct", "Oktober", "Okt.", "octobre", "ottobre", "ott."],
    11: ["November", "Nov.", "novembre"],
    12: ["December", "Dec", "Dezember", "Dez.", "décembre", "déc.", "dicembre", "dic."],
}
DATES = st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2006, 12, 31))


def hashed(_: str) -> str:
    return HASH


@st.composite
def in_words(draw: st.DrawFn, date: dt.date) -> str:
    """``date`` as a note writes it with its month in words."""
    month = draw(st.sampled_from(MONTHS[date.month]))
    day = draw(st.sampled_from([str(date.day), f"{date.day:02d}", f"{date.day}."]))
    year = draw(st.sampled_from([str(date.year), f"{date.year % 100:02d}"]))
    form = draw(st.sampled_from(["{d} {m} {y}", "{m} {d}, {y}", "{d}-{m}-{y}", "{d}{m}{y}"]))
    if form != "{d} {m} {y}":
        day = day.rstrip(".")
    if ", " in form:  # after a comma two digits are a value ("14 Feb, 58 mg/L", review 118)
        year = str(date.year)
    if "{d}{m}" in form:
        month = month.rstrip(".")
    return form.format(d=day, m=month, y=year)


def hl7(birth: dt.date, note: str, *, phone: str = "", control_id: str = "M1") -> str:
    return (
        f"MSH|^~\\&|LIS|HOSP|CACHEXIA|TRIAL|20261120080000||ORU^R01|{control_id}|P|2.5.1\r"
        f"PID|1||MRN123^^^HOSP^MR||Zwyssigmann^Hortensia^Q||{birth:%Y%m%d}|F|||||{phone}\r"
        "OBR|1|ORD1|F1|1988-5^CRP^LN\r"
        "OBX|1|NM|1988-5^CRP^LN|1|12.5|mg/L|<5||||F|||20261120070000\r"
        f"NTE|1||{note}\r"
    )


def hl7_note(birth: dt.date, note: str, *, phone: str = "") -> str:
    return redact(hl7(birth, note, phone=phone), hashed).split("\r")[-1].removeprefix("NTE|1||")


def fhir_text(birth: dt.date, note: str, *, phone: str = "031 123 45 67") -> str:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": {"resourceType": "Patient", "birthDate": birth.isoformat(),
                          "telecom": [{"system": "phone", "value": phone}]}},
            {"resource": {"resourceType": "Observation", "status": "final",
                          "code": {"text": "CRP"}, "valueString": note}},
        ],
    }  # fmt: skip
    text: str = redact_fhir(bundle, hashed)["entry"][1]["resource"]["valueString"]
    return text


def json_value(birth: dt.date, note: str, *, phone: str = "+41 31 123 45 67") -> str:
    payload = {
        "message_id": "m1",
        "patient": {"mrn": "4711", "birth_date": birth.isoformat(), "phone": phone},
        "results": [{"result_id": "r1", "loinc": "1988-5", "value": note, "status": "final"}],
    }
    value: str = redact_json(payload, hashed)["results"][0]["value"]
    return value


COPIES = [hl7_note, fhir_text, json_value]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), birth=DATES, copy=st.sampled_from(COPIES))
def test_every_birth_date_written_in_words_is_scrubbed(
    data: st.DataObject, birth: dt.date, copy: object
) -> None:
    written = data.draw(in_words(birth))
    kept = copy(birth, f"geb. {written}, CRP 12.5 mg/L")  # type: ignore[operator]
    assert kept == f"geb. {REDACTED}, CRP 12.5 mg/L", written


@settings(max_examples=150, deadline=None)
@given(data=st.data(), birth=DATES, other=DATES, copy=st.sampled_from(COPIES))
def test_another_date_in_words_and_the_values_are_kept(
    data: st.DataObject, birth: dt.date, other: dt.date, copy: object
) -> None:
    """A collection date (any other day, also one of the birthday in another year written
    with four digits) and lab values are never scrubbed."""
    if (other.month, other.day) == (birth.month, birth.day) and other.year % 100 == (
        birth.year % 100
    ):
        return
    written = data.draw(in_words(other))
    note = f"entnommen {written} 08:15, CRP 12.5 mg/L (Norm <5), Tc 250 000/uL"
    assert copy(birth, note) == note  # type: ignore[operator]


@settings(max_examples=100, deadline=None)
@given(birth=DATES, copy=st.sampled_from(COPIES))
def test_a_birth_date_written_d_m_yy_is_scrubbed_as_a_whole_word(
    birth: dt.date, copy: object
) -> None:
    short = f"{birth.day}.{birth.month}.{birth.year % 100:02d}"
    kept = copy(birth, f"DOB {short}; 1{short}; {short}3")  # type: ignore[operator]
    assert kept == f"DOB {REDACTED}; 1{short}; {short}3"


def test_d_m_yy_is_among_the_spellings() -> None:
    assert "4.2.58" in date_spellings("1958", "02", "04")
    assert "14.2.58" in date_spellings("1958", "02", "14")


@pytest.mark.parametrize(
    "written",
    ["14 Feb 1958", "14. Februar 1958", "February 14, 1958", "14 février 1958",
     "14 febbraio 1958", "14 FÉVR. 1958", "14-FEB-58", "14FEB1958", "1958 Feb 14",
     "Feb. 14th, 1958", "14 fe\u0301vrier 1958"],
)  # fmt: skip
def test_the_examples_of_the_brief_are_scrubbed(written: str) -> None:
    birth = dt.date(1958, 2, 14)
    for copy in COPIES:
        assert copy(birth, f"born {written}!") == f"born {REDACTED}!", (copy, written)


@pytest.mark.parametrize(
    "note",
    ["CRP 14 Feb, 58 mg/L", "since Feb 14, 58 units given", "Feb 14, 58", "14 Feb, 58",
     "CRP 14 Feb 58 mg/L", "14-Feb-58 %", "Hb 14 Feb 58 g/L", "14 Feb 58 x10*9/L",
     "Feb 14 58 µmol/L", "14 Feb 58 U/L"],
)  # fmt: skip
def test_two_digits_after_a_comma_or_before_a_unit_are_a_value(note: str) -> None:
    """Review 118: with a birth date of 14 Feb 1958, ``CRP 14 Feb, 58 mg/L`` was kept as
    ``CRP [redacted] mg/L``: a two-digit year never follows a comma nor precedes a unit."""
    for copy in COPIES:
        assert copy(dt.date(1958, 2, 14), note) == note, (copy, note)


@pytest.mark.parametrize(
    "note", ["14 Feb 58, seen", "14-FEB-58 Luzern", "Feb 14 58: ok", "14 Feb 58 Mutter"]
)
def test_two_digits_before_other_words_are_still_the_year(note: str) -> None:
    assert REDACTED in hl7_note(dt.date(1958, 2, 14), note)


def test_a_date_in_words_next_to_another_is_found() -> None:
    """A match that is no birth date does not hide one that begins inside it."""
    assert hl7_note(dt.date(1958, 2, 4), "3 Feb 04, 1958") == f"3 {REDACTED}"


PHONES = ["0311234567", "031 123 45 67", "+41 31 123 45 67", "^PRN^PH^^^031^1234567"]


@settings(max_examples=100, deadline=None)
@given(
    prefix=st.sampled_from(["Tel", "tel:", "Tel.", "TEL", "Natel", "Fax", "Tel:+41"]),
    written=st.sampled_from(["0311234567", "031 123 45 67", "031.123.45.67", "311234567"]),
    phone=st.sampled_from(PHONES),
)
def test_a_phone_run_into_letters_is_scrubbed(prefix: str, written: str, phone: str) -> None:
    if prefix.endswith("+41") and written.startswith("0"):
        written = written[1:]
    if not prefix.endswith("+41") and not written.startswith("0"):
        return  # a subscriber number alone is not the phone (it follows a country code)
    kept = hl7_note(dt.date(1958, 2, 14), f"{prefix}{written} bitte", phone=phone)
    assert "1234567" not in kept.replace(" ", "").replace(".", ""), kept
    assert kept.startswith(prefix.removesuffix("41")) and kept.endswith(" bitte")


@pytest.mark.parametrize("copy", [fhir_text, json_value])
@pytest.mark.parametrize("prefix", ["Tel", "tel:", "Natel", "TEL."])
def test_a_phone_run_into_letters_is_scrubbed_in_fhir_and_json(copy: object, prefix: str) -> None:
    kept = copy(dt.date(1958, 2, 14), f"{prefix}0311234567 bitte")  # type: ignore[operator]
    assert kept == f"{prefix}{REDACTED} bitte"


def test_a_phone_run_into_digits_is_another_number() -> None:
    note = "Auftrag 10311234567, 03112345670"
    assert hl7_note(dt.date(1958, 2, 14), note, phone="0311234567") == note
    assert fhir_text(dt.date(1958, 2, 14), note, phone="0311234567") == note


@pytest.mark.parametrize(
    ("control_id", "kept"),
    [("DOE4.2.1958", f"DOE{REDACTED}"), ("X4.2.58-01", f"X{REDACTED}-01"),
     ("X04.02.58", f"X{REDACTED}"), ("X14.2.1958", "X14.2.1958"), ("X4.2.1958.3", "X4.2.1958.3"),
     ("M4FEB1958", f"M{REDACTED}"), ("M14FEB1958", "M14FEB1958")],
)  # fmt: skip
def test_a_date_with_a_short_part_is_found_run_into_an_id_s_letters_only(
    control_id: str, kept: str
) -> None:
    copy = redact(hl7(dt.date(1958, 2, 4), "ok", control_id=control_id), hashed)
    assert kept_message_id(copy, "") == kept


def test_the_scrubber_stays_bounded_on_many_dates_in_words() -> None:
    """Ten times the dates, at most twelve times the Python steps (``tests.python_steps``,
    not timed: no load of the machine changes them)."""
    scrub = Scrubber({"19580214": REDACTED, "Hortensia": REDACTED})
    copies, kept = [], []
    small = python_steps(lambda: copies.append(scrub("14 Feb 58 " * 3_000)))
    python_steps(lambda: copies.append(scrub("14 Feb 58 " * 30_000)), budget=12 * small)
    assert copies[-1] == REDACTED  # more copies than its budget: replaced whole
    other = "13 Feb 1958, Feb 15 58; 1958-FEB-13 "  # no copy: linear, kept
    small = python_steps(lambda: kept.append(scrub(other * 300)))
    python_steps(lambda: kept.append(scrub(other * 3_000)), budget=12 * small)
    assert kept == [other * 300, other * 3_000]


def test_json_copy_is_still_json() -> None:
    assert json.loads(json.dumps(json_value(dt.date(1958, 2, 14), "14 Feb 1958")))
