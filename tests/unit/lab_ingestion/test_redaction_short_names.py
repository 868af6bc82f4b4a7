"""A name of two letters (Wu, Li, Xu, Ng, Le, Vu, Ho) in FHIR and JSON kept copies: its copies
are scrubbed as whole words in any case, as HL7's are (review 108); a result's units, flags,
codes and statuses are kept unless a word of them is that name; identifiers, dates and
other removed values keep their own minimums."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.redaction import REDACTED, Secrets, scrub_secrets
from services.lab_ingestion.adapters.scrub import Scrubber
from tests.unit.lab_ingestion import route_fakes as fake
from tests.unit.lab_ingestion.route_fakes import hash_identifier, observation

TITLES = frozenset({"dr", "mr", "ms", "jr", "sr"})  # never searched for: no one's name
SHORT_NAMES = ("Wu", "Li", "Xu", "Ng", "Le", "Vu", "Ho")
# what a lab result's coded and measured fields commonly hold: none may be cut by a name
# that is none of its words
LAB_TOKENS = ("mg/L", "mg/dL", "ng/mL", "µg/L", "U/L", "IU/mL", "mmol/L", "fL", "pg", "10*9/L",
              "%", "H", "L", "HH", "LL", "N", "A", "<", ">=", "final", "preliminary",
              "1988-5", "30522-7", "CRP", "hs-CRP", "mL/min/1.73m2")  # fmt: skip


def text_of(redacted: dict[str, Any]) -> str:
    return json.dumps(redacted, default=str)


def whole_word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![^\W_]){re.escape(name)}(?![^\W_])", re.IGNORECASE)


def named(family: str, given: str) -> dict[str, Any]:
    return fake.PATIENT | {"name": [{"family": family, "given": [given]}]}


@pytest.mark.parametrize("family", SHORT_NAMES)
def test_a_two_letter_name_is_scrubbed_from_a_fhir_copy(family: str) -> None:
    other = observation(
        subject={"reference": fake.PATIENT_URL},
        code={"coding": [{"system": "http://loinc.org", "code": "1988-5"}],
              "text": f"CRP - {family}, An"},
        valueString=f"for {family.upper()} AN",
        method={"text": f"{family.lower()}/an"},
    )  # fmt: skip
    redacted = redact_fhir(fake.bundle("batch", named(family, "An"), other), hash_identifier)
    resource = redacted["entry"][1]["resource"]
    assert resource["code"]["text"] == f"CRP - {REDACTED}, {REDACTED}"
    assert resource["valueString"] == f"for {REDACTED} {REDACTED}"
    assert resource["method"]["text"] == f"{REDACTED}/{REDACTED}"
    assert resource["code"]["coding"] == other["code"]["coding"]
    assert not whole_word(family).search(text_of(redacted))


def test_a_two_letter_name_alone_in_a_string_is_scrubbed() -> None:
    """A string no longer than the name itself is searched too (the scrubber once left
    every string under three characters as it was)."""
    resource = observation(contained=[named("Wu", "Li") | {"id": "p"}],
                           subject={"reference": "#p"}, valueString="li")  # fmt: skip
    assert redact_fhir(resource, hash_identifier)["valueString"] == REDACTED
    assert Scrubber({"Wu": REDACTED}, min_length=2)("wu") == REDACTED
    assert Scrubber({"Wu": REDACTED})("wu") == "wu"  # (three characters by default)


def test_a_two_letter_name_inside_a_word_or_a_unit_is_left_alone() -> None:
    """Whole words only: ``Ho`` leaves "Hospital", "hs-CRP" and "mmol/L" alone, ``Li`` the
    "Lipase" test; a one-letter part (an initial) is never searched."""
    other = observation(
        subject={"reference": fake.PATIENT_URL},
        code={"coding": [{"system": "http://loinc.org", "code": "1988-5"}], "text": "Lipase"},
        valueQuantity={"value": 3, "unit": "mmol/L", "code": "mmol/L"},
        method={"text": "Hospital lab, hs-CRP, H and L flags, J. seen"},
        interpretation=[{"coding": [{"code": "H"}]}],
    )
    patient = fake.PATIENT | {"name": [{"family": "Ho", "given": ["Li", "J."]}]}
    redacted = redact_fhir(fake.bundle("batch", patient, other), hash_identifier)
    resource = redacted["entry"][1]["resource"]
    for element in ("code", "valueQuantity", "method", "interpretation"):
        assert resource[element] == other[element], element


def test_a_title_or_an_initial_is_no_secret_but_the_name_beside_it_is() -> None:
    """The patient's display ("Dr. Wu", a note's author "Mr Ng"): each name is scrubbed
    elsewhere, not the title."""
    resource = observation(
        subject={"identifier": {"value": fake.MRN}, "display": "Dr. Wu"},
        note=[{"text": "seen", "authorString": "Mr Ng"}],
        method={"text": "Dr Wu for Mr Wu and Ng, Ms X."},
    )
    redacted = redact_fhir(resource, hash_identifier)
    assert redacted["method"]["text"] == f"Dr {REDACTED} for Mr {REDACTED} and {REDACTED}, Ms X."


def test_other_removed_values_keep_their_minimums() -> None:
    """Only a name's parts are searched from two letters: a patient's state ("ZH", a code
    HL7's copies never search for) or country ("CH": no one's) and a two-character
    identifier still from three (such values would cut ordinary codes)."""
    identifiers = [{"system": "urn:hosp", "value": fake.MRN}, {"system": "urn:x", "value": "A1"}]
    address = {"state": "ZH", "country": "CH"}
    patient = fake.PATIENT | {"identifier": identifiers, "address": [address]}
    method = {"text": "ZH CH A1"}
    other = observation(subject={"reference": fake.PATIENT_URL}, method=method)
    redacted = redact_fhir(fake.bundle("batch", patient, other), hash_identifier)
    assert redacted["entry"][1]["resource"]["method"] == method
    secrets = Secrets()
    secrets.text("Ox")
    secrets.name("Dr Ox")
    assert secrets == {"Dr Ox": REDACTED, "Ox": REDACTED}


@pytest.mark.parametrize("key", ["family", "given", "surname", "last_name", "maidenName"])
def test_a_json_patient_name_of_two_letters_is_scrubbed_by_any_name_key(key: str) -> None:
    payload = copy.deepcopy(fake.JSON_BODY)
    payload["patient"] = {"identifier": fake.MRN, key: "Xu"}
    payload["message_id"] = "LAB-Xu"
    payload["results"][0] |= {"result_id": "xu-1", "reference_range": "0-5 (Xu)"}
    redacted = redact_json(payload, hash_identifier)
    assert redacted["message_id"] == f"LAB-{REDACTED}"
    assert redacted["results"][0]["result_id"] == f"{REDACTED}-1"
    assert redacted["results"][0]["reference_range"] == f"0-5 ({REDACTED})"
    assert redacted["results"][0]["unit"] == "mg/L"


@given(
    name=st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    token=st.sampled_from(LAB_TOKENS),
    around=st.sampled_from(["{} ", "({})", "{}, ", "-{}-", "{}"]),
)
@settings(max_examples=300)
def test_a_short_name_is_gone_and_a_lab_token_kept_unless_a_word_of_it(
    name: str, token: str, around: str
) -> None:
    """Any name of two letters: no copy of it survives as a whole word; a unit, flag, code
    or status is kept as sent unless one of its words is that name (then it is cut, as
    HL7's copy cuts it: such a copy is not the message sent)."""
    assume(name.lower() not in TITLES)
    secrets = Secrets()
    secrets.name(name)
    free = around.format(name.swapcase()) + f" in {token}"
    coded = {"unit": token, "flag": token}
    scrubbed = scrub_secrets({"text": free, **coded}, secrets)
    assert not whole_word(name).search(scrubbed["text"].replace(REDACTED, " "))
    if name.lower() not in {word.lower() for word in re.findall(r"[^\W_]+", token)}:
        assert {key: scrubbed[key] for key in coded} == coded
