"""Review 232 D2: a FHIR extension whose URL names only a place (``residence``,
``place-of-residence``, ``wohnort``, ...), on an Observation or its contained Patient, has
its value searched for elsewhere as an address (a line's street and city), as one naming a
person (``patient-birthPlace``) had; a URL naming neither (nor a place by its host alone,
nor only a state or a country) leaves its value merely dropped."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_extension_urls import ExtensionUrls
from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from shared.phi_keys import is_place_url

LINE = "Gartenweg 3, 3600 Thun"
NOTE = "wohnt in Thun, Gartenweg 3"


def _kept(url: str, value: str, note: str, *, on: str) -> dict[str, Any]:
    extension = [{"url": url, "valueString": value}]
    patient: dict[str, Any] = {
        "resourceType": "Patient", "id": "p1",
        "identifier": [{"system": "urn:hosp", "value": "MRN4711"}],
    }  # fmt: skip
    observation: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:lab", "value": "R232-1"}],
        "contained": [patient], "subject": {"reference": "#p1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}], "text": "CRP"},
        "valueQuantity": {"value": 20, "unit": "furlongs"},
        "component": [{"code": {"text": "note"}, "valueString": note}],
    }  # fmt: skip
    (patient if on == "patient" else observation)["extension"] = extension
    return redact_fhir(observation, lambda _: "h" * 12)


@pytest.mark.parametrize(
    "url",
    ["http://example.org/fhir/StructureDefinition/residence",
     "http://example.org/StructureDefinition/place-of-residence",
     "http://fhir.example.ch/StructureDefinition/wohnort",
     "http://example.org/fhir/StructureDefinition/lieuDeResidence",
     "http://example.org/fhir/StructureDefinition/luogo-di-residenza",
     "http://example.org/fhir/StructureDefinition/domicilio",
     "http://fhir.ch/ig/ch-core/StructureDefinition/ch-ext-epr-placeOfOrigin",
     "urn:example:residence"],
)  # fmt: skip
@pytest.mark.parametrize("on", ["observation", "patient"])
def test_a_place_extension_value_is_scrubbed_elsewhere(url: str, on: str) -> None:
    kept = _kept(url, LINE, NOTE, on=on)
    assert kept["component"][0]["valueString"] == "wohnt in [redacted], [redacted]", kept
    if on == "observation":  # (a contained Patient keeps only its id and identifier)
        assert kept["extension"] == [{"url": url}], kept
    assert "Thun" not in str(kept) and "Gartenweg" not in str(kept), kept
    assert kept["identifier"][0]["value"] == "R232-1", kept


@pytest.mark.parametrize(
    "url",
    ["http://hl7.org/fhir/StructureDefinition/data-absent-reason",
     "http://example.org/fhir/StructureDefinition/specimen-state",
     "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-country",
     "http://fhir.stadt-zuerich.ch/StructureDefinition/specimen-quality",
     "http://fhir.kanton.example/StructureDefinition/analyser"],
)  # fmt: skip
def test_an_extension_naming_no_place_is_only_dropped(url: str) -> None:
    """A specimen's state, a country, a place only in the host: the value goes, the same
    words elsewhere stay (they are no place of the patient's)."""
    kept = _kept(url, "haemolysed sample", "haemolysed sample, repeat", on="observation")
    assert kept["component"][0]["valueString"] == "haemolysed sample, repeat", kept
    assert kept["extension"] == [{"url": url}], kept


def test_a_part_of_a_place_extension_is_a_place() -> None:
    """A complex extension ``residence`` whose part is ``line``: the part's value too."""
    urls = ExtensionUrls().within("http://example.org/residence").within("line")
    assert urls.personal and urls.places and not urls.names


def _spell(words: list[str], style: str) -> str:
    if style == "camel":
        return words[0] + "".join(word.title() for word in words[1:])
    return {"kebab": "-", "snake": "_"}[style].join(words)


PLACES = [["residence"], ["place", "of", "residence"], ["wohnort"], ["lieu", "de", "residence"],
          ["birth", "place"], ["home", "address"], ["adresse"], ["domicile"], ["city"],
          ["heimatort"], ["luogo", "di", "residenza"], ["lugar", "de", "residencia"]]  # fmt: skip
ORDINARY = [["specimen", "state"], ["data", "absent", "reason"], ["body", "site"],
            ["device", "country"], ["analysis", "region"], ["quality"], ["workflow"]]  # fmt: skip
hosts = st.sampled_from(["example.org", "fhir.example.ch", "hl7.org/fhir",
                         "fhir.kanton-bern.ch", "stadt-zuerich.ch", "ort.example"])  # fmt: skip
styles = st.sampled_from(["camel", "kebab", "snake"])


@given(hosts, st.sampled_from(PLACES), styles, st.sampled_from(["", "patient-", "ch-ext-"]))
def test_a_url_naming_a_place_in_any_spelling(
    host: str, words: list[str], style: str, prefix: str
) -> None:
    url = f"http://{host}/StructureDefinition/{prefix}{_spell(words, style)}"
    assert is_place_url(url), url


@given(hosts, st.sampled_from(ORDINARY), styles)
def test_a_url_naming_no_place_of_a_persons(host: str, words: list[str], style: str) -> None:
    """Whatever its host says (``kanton``, ``stadt``, ``ort``)."""
    url = f"https://{host}/StructureDefinition/{_spell(words, style)}"
    assert not is_place_url(url), url
