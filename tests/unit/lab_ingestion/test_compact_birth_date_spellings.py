"""A birth date written in digits only, day or month first or with a two-digit year
(``14021958``, ``02141958``, ``140258``, ``580214``, ``021458``), or month first with
dashes (``02-14-1958``), is scrubbed from a kept copy as the other spellings are: whole in
free text (NTE, OBX-5, a FHIR ``valueString``, a JSON ``value``), run into letters or
digits in ids (MSH-10, MSH-3, order numbers, a FHIR id or identifier, a JSON
``message_id``, ``result_id`` or ``source``). Fixer 128 and review 126: ``DDMMYYYY`` was
not among ``secret_spellings.date_spellings``, so ``LIS14021958`` or a bare ``14021958`` was kept.
A day up to 12 is searched both ways round (``03021958`` and ``02031958``)."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.hl7_redaction import redact
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.scrub import REDACTED
from services.lab_ingestion.adapters.secret_spellings import date_spellings, written_dates
from tests.unit.lab_ingestion.hl7_samples import FAST

HASH = "a" * 64
# the spellings added: DDMMYYYY, MMDDYYYY, DDMMYY, YYMMDD, MMDDYY, MM-DD-YYYY
COMPACT = ["%d%m%Y", "%m%d%Y", "%d%m%y", "%y%m%d", "%m%d%y", "%m-%d-%Y"]
# how PID-7 may hold the birth date (``secret_spellings.written_dates``)
PID7_FORMS = ["%Y%m%d", "%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%m-%d-%Y",
              "%Y%m%d%H%M"]  # fmt: skip
BIRTHS = st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2006, 12, 31))


def hashed(_: str) -> str:
    return HASH


def _last_line(copy: str) -> str:
    return copy.rstrip("\r").split("\r")[-1]


def hl7_copy(birth: str, spelled: str) -> dict[str, str]:
    """The kept copy's MSH-3, MSH-10, OBR-2, OBR-3, OBX-5 and NTE-3, the birth date
    ``spelled`` bare or run into each."""
    text = (
        f"MSH|^~\\&|LIS{spelled}|HOSP|CACHEXIA|TRIAL|20261120080000||ORU^R01|{spelled}|P|2.5.1\r"
        f"PID|1||MRN123^^^HOSP^MR||Zwyssigmann^Hortensia||{birth}|F\r"
        f"OBR|1|ORD{spelled}|{spelled}-7|1988-5^CRP^LN\r"
        f"OBX|1|ST|1988-5^CRP^LN|1|geb. {spelled}|mg/L|||||F\r"
        f"NTE|1||DOB {spelled}, CRP 12.5 mg/L\r"
    )
    lines = {line[:3]: line.split("|") for line in redact(text, hashed).split("\r") if line}
    msh, obr, obx, nte = lines["MSH"], lines["OBR"], lines["OBX"], lines["NTE"]
    return {"MSH-3": msh[2], "MSH-10": msh[9], "OBR-2": obr[2], "OBR-3": obr[3],
            "OBX-5": obx[5], "NTE-3": nte[3]}  # fmt: skip


def fhir_copy(birth: dt.date, spelled: str) -> dict[str, object]:
    observation = {
        "resourceType": "Observation", "id": f"obs{spelled}", "status": "final",
        "contained": [{"resourceType": "Patient", "id": "p1", "birthDate": birth.isoformat(),
                       "identifier": [{"system": "urn:hosp", "value": "MRN123"}]}],
        "identifier": [{"system": "urn:lab", "value": f"LAB{spelled}"}],
        "subject": {"reference": "#p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "valueString": f"geb. {spelled}",
        "note": [{"text": f"DOB {spelled}"}],
    }  # fmt: skip
    return redact_fhir(observation, hashed)


def json_copy(birth: dt.date, spelled: str) -> dict[str, object]:
    body = {
        "message_id": f"MSG{spelled}",
        "source": {"application": f"LIS{spelled}", "facility": "H"},
        "patient": {"identifier": "MRN123", "birth_date": birth.isoformat()},
        "results": [{"result_id": spelled, "loinc": "1988-5", "value": f"geb. {spelled}",
                     "unit": "mg/L", "reference_range": f"{spelled}"}],
    }  # fmt: skip
    return redact_json(body, hashed)


@FAST
@given(birth=BIRTHS, form=st.sampled_from(COMPACT), pid7=st.sampled_from(PID7_FORMS))
def test_a_compact_birth_date_is_gone_from_every_hl7_field(
    birth: dt.date, form: str, pid7: str
) -> None:
    spelled = birth.strftime(form)
    kept = hl7_copy(birth.strftime(pid7), spelled)
    for field, value in kept.items():
        assert spelled not in value, (field, kept)
    assert kept["NTE-3"] == f"DOB {REDACTED}, CRP 12.5 mg/L"  # the rest of the note stays
    assert kept["OBX-5"] == f"geb. {REDACTED}"


@FAST
@given(birth=BIRTHS, form=st.sampled_from(COMPACT))
def test_a_compact_birth_date_is_gone_from_a_fhir_copy(birth: dt.date, form: str) -> None:
    spelled = birth.strftime(form)
    copy = fhir_copy(birth, spelled)
    assert spelled not in json.dumps(copy), copy
    assert copy["valueString"] == f"geb. {REDACTED}"
    assert copy["identifier"][0]["value"] == f"LAB{REDACTED}"  # type: ignore[index]


@FAST
@given(birth=BIRTHS, form=st.sampled_from(COMPACT))
def test_a_compact_birth_date_is_gone_from_a_json_copy(birth: dt.date, form: str) -> None:
    spelled = birth.strftime(form)
    copy = json_copy(birth, spelled)
    assert spelled not in json.dumps(copy), copy
    assert copy["message_id"] == f"MSG{REDACTED}"
    assert copy["results"][0]["value"] == f"geb. {REDACTED}"  # type: ignore[index]


def test_a_day_up_to_twelve_is_searched_both_ways_round() -> None:
    """3 February 1958 is ``03021958`` day first and ``02031958`` month first: both are the
    patient's date; 2 March's spellings are another day's and stay."""
    spellings = date_spellings("1958", "02", "03")
    assert {"03021958", "02031958", "030258", "580203", "020358"} <= set(spellings)
    note = "a 03021958 b 02031958 c 030258 d 580203 e 020358 f 02-03-1958"
    text = (
        "MSH|^~\\&|LIS|HOSP|CACHEXIA|TRIAL|20261120080000||ORU^R01|M1|P|2.5.1\r"
        "PID|1||MRN123^^^HOSP^MR||Roe^Ann||19580203|F\r"
        f"NTE|1||{note}; other day 02031985 030358\r"
    )
    nte = _last_line(redact(text, hashed)).split("|")[3]
    expected = "a {0} b {0} c {0} d {0} e {0} f {0}; other day 02031985 030358"
    assert nte == expected.format(REDACTED)


def test_a_six_digit_spelling_is_a_whole_word_in_text_and_found_run_into_ids() -> None:
    """In free text a six-digit spelling is found whole only (``1402580`` is another
    number), in an id run into letters or separators, never into digits (review 128)."""
    kept = hl7_copy("19580214", "140258")
    assert kept["MSH-10"] == REDACTED and kept["OBR-2"] == f"ORD{REDACTED}"
    assert kept["OBR-3"] == f"{REDACTED}-7"
    text = (
        "MSH|^~\\&|LIS|HOSP|CACHEXIA|TRIAL|20261120080000||ORU^R01|M1|P|2.5.1\r"
        "PID|1||MRN123^^^HOSP^MR||Roe^Ann||19580214|F\r"
        "NTE|1||Tc 1402580 /uL, lot 5802141\r"
    )
    assert _last_line(redact(text, hashed)) == "NTE|1||Tc 1402580 /uL, lot 5802141"


def test_a_pid7_written_month_first_with_dashes_is_read_and_searched_for() -> None:
    """``02-14-1958`` (a US form) was read as day 2 of month 14, no date: blanked in PID-7
    and kept everywhere else; an ambiguous one is read both ways, as with slashes."""
    assert written_dates("02-14-1958") == [("1958", "02", "14")]
    assert written_dates("02-03-1958") == [("1958", "03", "02"), ("1958", "02", "03")]
    kept = hl7_copy("02-14-1958", "14021958")
    assert kept["NTE-3"] == f"DOB {REDACTED}, CRP 12.5 mg/L", kept
    assert kept["MSH-10"] == REDACTED and kept["MSH-3"] == f"LIS{REDACTED}", kept


SIX_DIGIT_FORMS = ["%d%m%y", "%y%m%d", "%m%d%y"]


@FAST
@given(
    birth=BIRTHS,
    form=st.sampled_from(SIX_DIGIT_FORMS),
    before=st.text("0123456789", max_size=8),
    after=st.text("0123456789", max_size=8),
)
def test_a_six_digit_spelling_inside_a_longer_number_in_an_id_is_kept(
    birth: dt.date, form: str, before: str, after: str
) -> None:
    """Review 128: a timestamp-built filler order number ``20261120140258`` holds 14:02:58,
    the DDMMYY of 14 February 1958; cut, the kept copy did not replay. Inside a longer run
    of digits six digits are another number; an eight-digit date is still found there."""
    if not before and not after:
        return
    number = f"{before}{birth.strftime(form)}{after}"
    text = (
        "MSH|^~\\&|LIS|HOSP|CACHEXIA|TRIAL|20261120080000||ORU^R01|M1|P|2.5.1\r"
        f"PID|1||MRN123^^^HOSP^MR||Roe^Ann||{birth:%Y%m%d}|F\r"
        f"OBR|1|ORD1|{number}|1988-5^CRP^LN\r"
    )
    obr = redact(text, hashed).split("\r")[-1].split("|")
    long_date = any(birth.strftime(f) in number for f in ("%Y%m%d", "%d%m%Y", "%m%d%Y"))
    assert obr[3] == number or long_date, obr[3]


@FAST
@given(
    birth=BIRTHS,
    form=st.sampled_from(SIX_DIGIT_FORMS),
    before=st.sampled_from(["", "LIS", "X-", "ORD/", "A"]),
    after=st.sampled_from(["", "X", "-1", "/A", "Z"]),
)
def test_a_six_digit_spelling_beside_letters_or_separators_in_an_id_is_cut(
    birth: dt.date, form: str, before: str, after: str
) -> None:
    spelled = birth.strftime(form)
    text = (
        "MSH|^~\\&|LIS|HOSP|CACHEXIA|TRIAL|20261120080000||ORU^R01|M1|P|2.5.1\r"
        f"PID|1||MRN123^^^HOSP^MR||Roe^Ann||{birth:%Y%m%d}|F\r"
        f"OBR|1|ORD1|{before}{spelled}{after}|1988-5^CRP^LN\r"
    )
    obr = redact(text, hashed).split("\r")[-1].split("|")
    assert obr[3] == f"{before}{REDACTED}{after}", obr[3]


def test_a_timestamp_order_number_holding_the_birth_date_as_ddmmyy_is_kept() -> None:
    text = (
        "MSH|^~\\&|LIS|HOSP|CACHEXIA|TRIAL|20261120080000||ORU^R01|M1|P|2.5.1\r"
        "PID|1||MRN123^^^HOSP^MR||Roe^Ann||19580214|F\r"
        "OBR|1|PLC1|20261120140258|1988-5^CRP^LN\r"
    )
    assert redact(text, hashed).split("\r")[-1] == "OBR|1|PLC1|20261120140258|1988-5^CRP^LN"
