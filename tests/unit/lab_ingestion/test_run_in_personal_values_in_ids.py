"""A patient's name or birth date run into an id with no separator (``ZWYSSIGMANN19510317``,
review 87) is scrubbed from the kept copy of a rejected message, as a separated one is; free
text is still scrubbed as whole words only (units and words are not cut)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.hl7_redaction import redact
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.service_layer.kept_copy_text import kept_message_id

HASH = "a" * 64


def hashed(_: str) -> str:
    return HASH


def message(control_id: str, *, order: str = "ORD1", sub: str = "1", note: str = "ok") -> str:
    return (
        f"MSH|^~\\&|LIS|HOSP|CACHEXIA|TRIAL|20261120080000||ORU^R01|{control_id}|P|2.5.1\r"
        "PID|1||MRN123^^^HOSP^MR||Zwyssigmann^Hortensia^Q||19510317|F\r"
        f"OBR|1|{order}|F1|1988-5^CRP^LN\r"
        f"OBX|1|ST|1988-5^CRP^LN|{sub}|high|mg/L|||||F\r"
        f"NTE|1||{note}\r"
    )


def fields(copy: str, segment: str) -> list[str]:
    return next(line for line in copy.split("\r") if line.startswith(segment)).split("|")


def test_a_name_and_birth_date_run_into_the_message_id_are_scrubbed() -> None:
    copy = redact(message("ZWYSSIGMANN19510317"), hashed)
    assert kept_message_id(copy, "sent") == "[redacted]"  # replay refuses it, as before
    assert "19510317" not in copy and "zwyssigmann" not in copy.lower()


def test_a_birth_date_or_a_name_alone_run_into_the_message_id_is_scrubbed() -> None:
    assert kept_message_id(redact(message("X19510317"), hashed), "") == "X[redacted]"
    assert kept_message_id(redact(message("ZWYSSIGMANN1"), hashed), "") == "[redacted]1"
    assert kept_message_id(redact(message("zwyssigMann7"), hashed), "") == "[redacted]7"
    assert kept_message_id(redact(message("HORTENSIAx"), hashed), "") == "[redacted]x"


def test_a_birth_date_inside_a_longer_digit_run_is_scrubbed() -> None:
    """A date followed by a sequence number (``195103170``) is still the birth date run in."""
    assert kept_message_id(redact(message("X195103170"), hashed), "") == "X[redacted]0"


def test_a_separated_name_and_date_are_scrubbed_as_before() -> None:
    copy = redact(message("ZWYSSIGMANN-19510317"), hashed)
    assert kept_message_id(copy, "") == "[redacted]-[redacted]"


def test_order_numbers_and_the_sub_id_are_scrubbed_too() -> None:
    copy = redact(message("M1", order="ZWYSSIGMANN19510317", sub="HORTENSIA2"), hashed)
    assert fields(copy, "OBR")[2] == "[redacted]"
    assert fields(copy, "OBX")[4] == "[redacted]2"


def test_a_hospital_number_run_into_an_id_is_still_masked_and_never_cut() -> None:
    copy = redact(message("MRN123-7"), hashed)
    assert kept_message_id(copy, "") == f"#{HASH[:12]}-7"


def test_free_text_is_still_scrubbed_as_whole_words_only() -> None:
    note = "Zwyssigmann1 5 mg/L Hortensia QUO umol/L"
    copy = redact(message("M1", note=note), hashed)
    assert fields(copy, "NTE")[3] == "Zwyssigmann1 5 mg/L [redacted] QUO umol/L"


def test_a_one_letter_name_part_is_not_searched_in_ids() -> None:
    assert kept_message_id(redact(message("Q1234"), hashed), "") == "Q1234"


def test_json_ids_lose_a_run_in_name_and_birth_date() -> None:
    body = {
        "message_id": "ZWYSSIGMANN19510317", "source": {"application": "LIS", "facility": "H"},
        "patient": {"identifier": "MRN123", "name": "Hortensia Zwyssigmann",
                    "birth": "1951-03-17"},
        "results": [{"result_id": "X19510317", "loinc": "1988-5", "value": "Zwyssigmann1",
                     "unit": "mg/L"}],
    }  # fmt: skip
    copy = redact_json(body, hashed)
    assert "[redacted]" in copy["message_id"] and "1951" not in copy["message_id"]
    assert copy["results"][0]["result_id"] == "X[redacted]"
    assert copy["results"][0]["value"] == "Zwyssigmann1"  # a value is free text: whole words


def test_fhir_ids_and_references_lose_a_run_in_name_and_birth_date() -> None:
    observation = {
        "resourceType": "Observation", "id": "ZWYSSIGMANN19510317", "status": "final",
        "contained": [{"resourceType": "Patient", "id": "pZwyssigmann",
                       "name": [{"family": "Zwyssigmann", "given": ["Hortensia"]}],
                       "birthDate": "1951-03-17",
                       "identifier": [{"system": "urn:hosp", "value": "MRN123"}]}],
        "identifier": [{"system": "urn:lab", "value": "LAB19510317"}],
        "subject": {"reference": "#pZwyssigmann"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
    }  # fmt: skip
    copy = redact_fhir(observation, hashed)
    text = json.dumps(copy).lower()
    assert "zwyssigmann" not in text and "19510317" not in text
    assert copy["identifier"][0]["value"] == "LAB[redacted]"
    assert copy["subject"]["reference"] == "#p[redacted]"
    assert copy["contained"][0]["identifier"][0]["value"] == HASH  # the hash is not cut


_LETTERS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=3,
                   max_size=12)  # fmt: skip
_AROUND = st.text(alphabet="ABCXYZ0123456789-._", max_size=6)


@given(family=_LETTERS, given_name=_LETTERS, before=_AROUND, between=_AROUND, after=_AROUND,
       name_first=st.booleans())  # fmt: skip
def test_a_scrubbed_id_never_holds_the_birth_date_or_a_name(
    family: str, given_name: str, before: str, between: str, after: str, name_first: bool
) -> None:
    parts = [family.upper(), "19510317"] if name_first else ["19510317", given_name.lower()]
    control_id = f"{before}{parts[0]}{between}{parts[1]}{after}"
    text = message(control_id).replace("Zwyssigmann^Hortensia", f"{family}^{given_name}")
    kept = kept_message_id(redact(text, hashed), "").lower().replace("[redacted]", " ")
    assert "19510317" not in kept
    assert family.lower() not in kept and given_name.lower() not in kept
