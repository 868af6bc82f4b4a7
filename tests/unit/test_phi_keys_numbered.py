"""Review 232 D1: a key naming an address line, a place or a person's detail is known with a
number glued on or set apart, however it is spelled (camelCase, snake_case, kebab-case,
upper case): ``addressLine1``, ``street1``, ``adresse1``, ``line1``, ``phone2``. An
ordinary key with a number (``result_id1``, ``value_sha256``) stays ordinary, and so does
a detail of something else (``email_address1``, ``remote_addr``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.json_redaction import redact_json
from shared.jsonlog import is_phi_field
from shared.phi_keys import is_area_key, is_place_key, is_street_key, key_words

STREETS = [["address"], ["addr"], ["address", "line"], ["street"], ["street", "address"],
           ["home", "address"], ["mailing", "address", "line"], ["postal", "address"],
           ["line"], ["adresse"], ["wohnadresse"], ["strasse"], ["anschrift"],
           ["indirizzo"], ["direccion"], ["domicilio"], ["residence"]]  # fmt: skip
PLACES = [["city"], ["zip"], ["postal", "code"], ["birth", "place"], ["city", "of", "birth"],
          ["place", "of", "residence"], ["wohnort"], ["plz"], ["ville"], ["ciudad"]]  # fmt: skip
AREAS = [["district"], ["state"], ["region"], ["canton"], ["kanton"], ["county"], ["country"],
         ["birth", "country"], ["bezirk"], ["province"]]  # fmt: skip
# the log formatter's person's details (``jsonlog._PHI_FIELD``)
PERSONS = [["phone"], ["name"], ["given", "name"], ["mrn"], ["dob"], ["email"], ["pid"],
           ["patient", "name"], ["next", "of", "kin"], ["insurance"]]  # fmt: skip
ORDINARY = [["result", "id"], ["message", "id"], ["reference", "range"], ["code"], ["loinc"],
            ["value"], ["unit"], ["status"], ["collected", "at"], ["abnormal", "flag"],
            ["event", "id"], ["subject", "id"], ["line", "count"], ["value", "sha"],
            ["segment"], ["topic"], ["consumer"], ["partition"], ["offset"],
            ["protocol", "version"], ["hl"], ["obx"]]  # fmt: skip
OTHER_THINGS = [["email", "address"], ["contact", "address"], ["remote", "addr"],
                ["ip", "address"], ["street", "view", "url"], ["addresses"]]  # fmt: skip


def _spell(words: list[str], style: str) -> str:
    if style == "camel":
        return words[0] + "".join(word.title() for word in words[1:])
    if style == "pascal":
        return "".join(word.title() for word in words)
    if style == "kebab":
        return "-".join(words)
    if style == "upper":
        return "_".join(words).upper()
    return "_".join(words)


@st.composite
def spelled(draw: st.DrawFn, bases: list[list[str]], *, inside: bool = True) -> str:
    """A key of one of ``bases`` in any spelling, maybe with a number glued on or set apart
    (after its words, or after its first word if ``inside``)."""
    words = list(draw(st.sampled_from(bases)))
    number = draw(st.none() | st.integers(0, 999).map(str))
    if number is not None:
        at = draw(st.sampled_from([len(words) - 1, 0] if inside else [len(words) - 1]))
        if draw(st.booleans()):
            words[at] += number  # glued: ``addressLine1``, ``line1``
        else:
            words.insert(at + 1, number)  # set apart: ``address_line_1``
    return _spell(words, draw(st.sampled_from(["snake", "camel", "pascal", "kebab", "upper"])))


@given(spelled(STREETS))
def test_an_address_line_key_with_any_number_is_an_address_line(key: str) -> None:
    assert is_street_key(key), (key, key_words(key))
    assert is_phi_field(key), key


@given(spelled(PLACES))
def test_a_place_key_with_any_number_is_a_place(key: str) -> None:
    assert is_place_key(key), (key, key_words(key))
    assert is_phi_field(key), key


@given(spelled(AREAS))
def test_an_area_key_is_a_place_searched_for_whole(key: str) -> None:
    """Review 258: never taken apart as a city with its canton (``Ost/West`` kept ``Ost``)."""
    assert is_place_key(key) and is_area_key(key), (key, key_words(key))


@given(spelled(PLACES))
def test_a_town_key_is_no_area(key: str) -> None:
    assert not is_area_key(key), (key, key_words(key))


@pytest.mark.parametrize("key", ["cityState", "city_state", "countyCity", "wohnort_kanton"])
def test_a_key_naming_a_town_and_an_area_is_a_towns(key: str) -> None:
    """Review 262: ``cityState: "Thun (BE)"`` was searched for only whole, ``Thun`` kept."""
    assert is_place_key(key) and not is_area_key(key)


@given(spelled(PERSONS, inside=False))  # (``next_of_kin`` is one phrase)
def test_a_persons_detail_with_any_number_is_redacted_in_the_logs(key: str) -> None:
    assert is_phi_field(key), key


@given(spelled(ORDINARY))
def test_an_ordinary_key_with_any_number_stays_ordinary(key: str) -> None:
    assert not is_street_key(key) and not is_place_key(key), (key, key_words(key))
    assert not is_phi_field(key), key


@given(spelled(OTHER_THINGS))
def test_a_detail_of_something_else_is_no_address_line(key: str) -> None:
    assert not is_street_key(key) and not is_place_key(key), (key, key_words(key))


def test_a_number_is_a_word_of_its_own() -> None:
    assert key_words("mailingAddressLine1") == {"mailing", "address", "line", "1"}
    assert key_words("ADDRESS_LINE1") == {"address", "line", "1"}
    assert key_words("zip5Code") == {"zip", "5", "code"}
    assert key_words("adresse1") == {"adresse", "1"}


@pytest.mark.parametrize(
    "key",
    ["addressLine1", "address_line1", "addressLine2", "mailingAddressLine1", "street1",
     "adresse1", "strasse1", "line1", "Wohnadresse2", "addr", "addr1"],
)  # fmt: skip
@pytest.mark.parametrize("where", ["patient", "top"])
def test_a_json_one_line_address_under_such_a_key(key: str, where: str) -> None:
    """The review's sixteen cases: the range was kept as sent."""
    line: dict[str, object] = {key: "Gartenweg 3, 3600 Thun"}
    body = {"message_id": "J-1", "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": "MRN4711", **(line if where == "patient" else {})},
            "results": [{"result_id": "R1", "reference_range": "wohnt in Thun, Gartenweg 3"}],
            **(line if where == "top" else {})}  # fmt: skip
    out = redact_json(body, lambda _: "h" * 12)
    assert out["results"][0]["reference_range"] == "wohnt in [redacted], [redacted]", out
    assert out["results"][0]["result_id"] == "R1", out
