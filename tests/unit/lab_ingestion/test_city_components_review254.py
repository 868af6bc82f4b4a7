"""Review 254 (D3): a city component written with its canton or region (PID-11.3 ``Thun
(BE)``, ``Thun/BE``, ``Saas-Fee/VS``, ``Zug (ZG)``; the county PID-12 and birth place PID-23;
a JSON place key, a FHIR ``city``) was searched for only as its whole phrase, so a note
repeating the city alone kept it. The city's name before the signs is searched for too,
however short, never the canton code alone; a street's component is never parted so."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.address_words import city_spellings
from services.lab_ingestion.adapters.hl7_codec import redact
from services.lab_ingestion.adapters.secret_spellings import place_spellings
from tests.unit.lab_ingestion.test_address_copies_review240 import PATIENT, _fhir, _json
from tests.unit.lab_ingestion.test_address_lines_review224 import HASH, TS
from tests.unit.lab_ingestion.test_places_in_free_text import pid

lower = "abcdefghijklmnopqrstuvwxyz"
upper = lower.upper()
names = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(upper),
    st.text(alphabet=lower, min_size=2, max_size=10),
)
cities = st.one_of(names, st.builds(lambda a, b: f"{a}-{b}", names, names))
codes = st.text(alphabet=upper, min_size=2, max_size=3)
written = st.sampled_from(["{city} ({code})", "{city}/{code}", "{city} / {code}", "{city}({code}"])


@given(city=cities, code=codes, form=written)
def test_a_city_with_its_canton_is_searched_for_by_its_name_never_the_code(
    city: str, code: str, form: str
) -> None:
    value = form.format(city=city, code=code)
    spellings = city_spellings(value)
    assert value in spellings and city in spellings, spellings
    assert code not in spellings, spellings


CANTONS = ["SG", "ZH", "BE", "VS", "sg", "Kt. BE"]


@given(city=cities, canton=st.sampled_from(CANTONS), comma=st.sampled_from([",", " ,", ", "]))
def test_a_city_with_its_canton_after_a_comma_is_searched_for_by_its_name(
    city: str, canton: str, comma: str
) -> None:
    """Review 258: ``Wil, SG`` kept ``Wil`` in notes; the canton is never searched alone."""
    spellings = city_spellings(f"{city}{comma}{canton}")
    assert city in spellings and canton not in spellings, spellings


@pytest.mark.parametrize(
    ("value", "city"),
    [("Thun, BE, CH", "Thun"), ("Wil SG, Schweiz", "Wil"), ("Zug (ZG), Schweiz", "Zug"),
     ("Thun, Schweiz", "Thun"), ("Lugano, Svizzera", "Lugano"), ("Köniz, Bern", "Köniz")],
)  # fmt: skip
def test_a_city_values_name_before_a_comma_is_searched_for(value: str, city: str) -> None:
    """Review 262: only the part after the last comma was looked at (``Thun, BE, CH``);
    review 266: a country in words is no region, and ``Thun, Schweiz`` kept ``Thun``."""
    assert city in city_spellings(value)
    assert not {"BE", "SG", "CH", "ZG"} & set(city_spellings(value))


@pytest.mark.parametrize(
    ("value", "city", "after"),
    [("Thun (BE), Schweiz", "Thun", "Schweiz"), ("Biel/Bienne, Schweiz", "Biel", "Bienne, Schweiz"),
     ("Saas-Fee/VS, CH", "Saas-Fee", "VS, CH"), ("Zug [ZG], Suisse", "Zug", "Suisse")],
)  # fmt: skip
def test_what_follows_a_city_values_comma_is_never_searched_alone(
    value: str, city: str, after: str
) -> None:
    """A country after a comma was searched alone where brackets or a slash parted the city
    (``Schweiz`` of ``Thun (BE), Schweiz`` cut from every note): only the city's part is."""
    spellings = city_spellings(value)
    assert after not in spellings and {value, city} <= set(spellings), spellings


@given(city=st.one_of(cities, st.builds(lambda a, b: f"{a} {b}", names, names)))
def test_a_city_without_signs_is_searched_for_as_any_place(city: str) -> None:
    assert city_spellings(city) == place_spellings(city)


@pytest.mark.parametrize("text", ["(" * 50_000, "/" * 50_000, "Thun (BE) " * 10_000])
def test_a_long_value_is_read_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    city_spellings(text)
    assert time.perf_counter() - started < 1.0


def _kept(address: str, note: str, *, county: str = "", birth_place: str = "") -> list[str]:
    message = "\r".join([
        "MSH|^~\\&|LIS|LABOR THUN|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1",
        pid(f11=address, f12=county, f23=birth_place), "ORC|RE|THUN-7|FTHUN-7",
        f"OBR|1|THUN-7|FTHUN-7|CRP^CRP^L|||{TS}",
        f"OBX|1|NM|1988-5^CRP^LN||3|mg/L|{note}|N|||F|||{TS}", f"NTE|1||{note}",
    ])  # fmt: skip
    return redact(message, lambda _: HASH).split("\r")


@pytest.mark.parametrize(
    ("address", "note", "kept"),
    [
        ("Gartenweg 3^^Thun (BE)^^3600^CH", "aus Thun", "aus [redacted]"),
        ("Gartenweg 3^^Thun/BE^^3600^CH", "aus Thun, Kanton BE", "aus [redacted], Kanton BE"),
        ("Gartenweg 3^^Saas-Fee/VS^^3906^CH", "aus Saas Fee", "aus [redacted]"),
        ("Gartenweg 3^^Zug (ZG)^^^CH", "Zug 0-5", "[redacted] 0-5"),
        ("Gartenweg 3^Lab (Bern)^Thun (BE)^^3600^CH", "Lab informiert", "Lab informiert"),
        ("Lab (Bern)^^Zug (ZG)^^6300^CH", "Lab informiert", "Lab informiert"),
    ],
)
def test_hl7_city_component_is_scrubbed_by_its_name_a_street_component_is_not_parted(
    address: str, note: str, kept: str
) -> None:
    msh, _, orc, obr, obx, nte = _kept(address, note)
    assert nte == f"NTE|1||{kept}" and obx.split("|")[7] == kept, (nte, obx)
    assert msh.split("|")[2:4] == ["LIS", "LABOR THUN"], msh
    assert orc.split("|")[2] == obr.split("|")[2] == "THUN-7" and obx.split("|")[6] == "mg/L"


@pytest.mark.parametrize("field", ["county", "birth_place"])
def test_hl7_county_and_birth_place_with_a_canton_are_scrubbed_by_their_name(field: str) -> None:
    *_, nte = _kept("", "geboren in Thun", **{field: "Thun (BE)"})
    assert nte == "NTE|1||geboren in [redacted]", nte


@pytest.mark.parametrize(
    ("key", "value", "note", "kept"),
    [
        ("city", "Zug (ZG)", "Zug 0-5", "[redacted] 0-5"),
        ("wohnort", "Thun/BE", "aus Thun", "aus [redacted]"),
        ("birthplace", "Saas-Fee/VS", "aus Saas-Fee", "aus [redacted]"),
        ("street", "Lab (Bern)", "Lab 0-5", "Lab 0-5"),
        ("city", "Zug (ZG)", "ZG 0-5", "ZG 0-5"),
    ],
)
def test_json_place_key_with_its_canton_is_scrubbed_by_its_name(
    key: str, value: str, note: str, kept: str
) -> None:
    assert _json(key, value, note) == kept


@pytest.mark.parametrize(
    ("address", "note", "kept"),
    [
        ({"city": "Thun (BE)", "postalCode": "3600"}, "aus Thun", "aus [redacted]"),
        ({"city": "Zug (ZG)"}, "wohnt in Zug, Kanton ZG", "wohnt in [redacted], Kanton ZG"),
        ({"line": ["Lab (Bern)"], "city": "Thun"}, "Lab informiert", "Lab informiert"),
        ({"district": "Whg (Ost)", "city": "Thun"}, "Whg informiert", "Whg informiert"),
    ],
)
def test_fhir_city_with_its_canton_is_scrubbed_by_its_name(
    address: dict[str, object], note: str, kept: str
) -> None:
    assert _fhir([{**PATIENT, "address": [address]}], note) == kept
