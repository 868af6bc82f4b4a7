"""Review 227: a postal code with its city in a PID-11 component is a place (a laboratory
named so keeps its name), an other designation ``12 B`` is no secret, an alphanumeric
postcode is searched for on its own, and a street written first ends at its apartment."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.address_lines import _STREET_WORDS, address_line, line_places
from services.lab_ingestion.adapters.address_words import _UNITS as UNITS
from services.lab_ingestion.adapters.hl7_codec import redact
from tests.unit.lab_ingestion.test_address_lines_review224 import HASH, TS, words
from tests.unit.lab_ingestion.test_places_in_free_text import pid

capitals = st.sampled_from("ABCDEFGHJKLMNPRSTUWXYZ")
digit = st.integers(0, 9).map(str)


@st.composite
def uk_postcodes(draw: st.DrawFn) -> str:
    area = draw(st.text(capitals, min_size=1, max_size=2))
    district = draw(digit) + draw(st.sampled_from(["", "A", "1"]))
    return f"{area}{district} {draw(digit)}{draw(capitals)}{draw(capitals)}"


@st.composite
def canadian_postcodes(draw: st.DrawFn) -> str:
    return (
        "".join(draw(s) for s in (capitals, digit, capitals))
        + " "
        + "".join(draw(s) for s in (digit, capitals, digit))
    )


@given(
    number=st.integers(1, 999), street=words, city=words,
    code=st.one_of(uk_postcodes(), canadian_postcodes()),
)  # fmt: skip
def test_an_alphanumeric_postcode_is_searched_for_alone(
    number: int, street: str, city: str, code: str
) -> None:
    assert code in address_line(f"{number} {street} Street, {city} {code}").numbered


@given(code=st.integers(1000, 9999), letters=st.text(capitals, min_size=2, max_size=2))
def test_a_dutch_postcode_is_searched_for_alone(code: int, letters: str) -> None:
    assert f"{code} {letters}" in address_line(f"Damrak 1, {code} {letters} Amsterdam").numbered


@given(
    number=st.integers(1, 99999), street=words.filter(lambda w: w.lower() not in UNITS),
    kind=st.sampled_from(["St", "Rd", "Ave", "Street", "Avenue"]),
    unit=st.sampled_from(["Apt", "Apt.", "Unit", "Suite", "Ste", "#", "Whg", "Wohnung", "Etage"]),
    flat=st.sampled_from(["5B", "12", "3a"]),
)  # fmt: skip
def test_a_street_written_first_ends_at_its_apartment(
    number: int, street: str, kind: str, unit: str, flat: str
) -> None:
    line = address_line(f"{number} {street} {kind} {unit} {flat}, Springfield, IL 62704")
    assert f"{number} {street} {kind}" in line.numbered
    assert f"{street} {kind}" in line_places(line)


@given(code=st.integers(1000, 99999), city=words)
def test_a_postal_code_with_its_city_alone_is_a_place(code: int, city: str) -> None:
    assume(city.lower() not in _STREET_WORDS)  # ``1000 Quai`` is a street with its number
    for line in (address_line(f"{code} {city}"), address_line(f"{code} {city}", postal_first=True)):
        assert line.numbered == [] and f"{code} {city}" in line_places(line)


@pytest.mark.parametrize("line", ["1234 Main St", "1600 Pennsylvania Avenue", "1234 Rue Haute"])
def test_a_house_number_before_its_street_stays_a_street(line: str) -> None:
    assert address_line(line).numbered == [line]


def _message(address: str, msh: str, order: str, note: str) -> str:
    return "\r".join([
        f"MSH|^~\\&|{msh}|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1",
        pid(f11=address), f"ORC|RE|{order}|F{order}", f"OBR|1|{order}|F{order}|CRP^CRP^L|||{TS}",
        f"OBX|1|NM|1988-5^CRP^LN||3|mg/L|0-5|N|||F|||{TS}", f"NTE|1||{note}",
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("address", "msh", "order"),
    [
        ("3600 Thun", "LABOR|3600 THUN", "ORD1"),
        ("Gartenweg 3^^3600 Thun^^^CH", "LABOR|3600 THUN", "ORD1"),
        ("Gartenweg 3^12 B^Thun^^3600^CH", "LIS|HOSP", "12 B"),
    ],
)
def test_what_a_replay_reads_stays_as_sent(address: str, msh: str, order: str) -> None:
    message = _message(address, msh, order, "ok")
    sent, kept = message.split("\r"), redact(message, lambda _: HASH).split("\r")
    assert [line for line in kept if not line.startswith("PID")] == [
        line for line in sent if not line.startswith("PID")
    ]


@pytest.mark.parametrize(
    ("address", "note", "kept"),
    [
        ("10 Downing Street, London SW1A 2AA", "lives SW1A 2AA", "NTE|1||lives [redacted]"),
        ("Gartenweg 3^^^^LS1 4AB^UK", "at LS1 4AB", "NTE|1||at [redacted]"),
        ("1234 Main St Apt 5B, Springfield, IL 62704", "pt at 1234 Main St",
         "NTE|1||pt at [redacted]"),
        ("3600 Thun", "wohnt in 3600 Thun", "NTE|1||wohnt in [redacted]"),
    ],
)  # fmt: skip
def test_still_scrubbed_from_a_note(address: str, note: str, kept: str) -> None:
    message = _message(address, "LIS|HOSP", "ORD1", note)
    assert redact(message, lambda _: HASH).split("\r")[-1] == kept
