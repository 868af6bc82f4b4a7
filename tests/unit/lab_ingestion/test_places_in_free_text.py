"""Review 192: the patient's places in kept copies of rejected messages.

1. The words of the patient's address (PID-11, the city too) were scrubbed wherever they
   appeared: a patient living in Bern made an allow-listed ``LIS|BERN`` ``LIS^[redacted]``,
   whose replay failed as an unknown source. A place (a city, postal code, a street's name
   or words) is now scrubbed in free text only, as the birth place is; a street line with its
   house number (``Bahnhofstrasse 12``) everywhere, as before.
2. A birth place, county or city written in a code's text (OBR-4, OBX-3, OBX-17, SPM-21:
   their text components, never the code or coding system), or in OBR-20/21, was kept.
3. A multi-word place's single words were scrubbed from notes where they are everyday words
   (``Bad`` of ``Bad Homburg``): a place is scrubbed as its whole phrase, a street's words
   of five letters or more only (a one-word place or street name whatever its length).
4. A FHIR ``Patient.link.other`` (``Person.link.target``) reference written as an
   identifier (``urn:hosp|MRN6666``) was kept as it is.
5. A JSON birth date written ``17.03.1951`` (or ``19510317``) was not searched in its other
   spellings: a ``collected_at`` of ``1951-03-17T08:00`` was kept.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.hl7_codec import redact
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.secret_spellings import street_words
from tests.unit.lab_ingestion.fhir_samples import crp_observation

HASH = "ab" * 32
TS = "20261120081500+0100"


def pid(**fields: str) -> str:
    values = ["PID", "1", "", "MRN4711^^^HOSP^MR", "", "DOE^JOHN", "", "19510317", "M"]
    values += [""] * 25
    for index, value in fields.items():
        values[int(index.removeprefix("f"))] = value
    return "|".join(values)


def message(patient: str, place: str, note: str, facility: str = "BERN") -> list[list[str]]:
    text = "\r".join([
        f"MSH|^~\\&|LIS|{facility}|LENA|TRIAL|20261120090000+0100||ORU^R01|M{place}9|P|2.5.1",
        patient,
        f"ORC|RE|P{place}|F{place}",
        f"OBR|1|P{place}|F{place}|{place}^{place} panel^L^{place}2^{place} alt^L|||{TS}"
        f"||||||{place} x|{place} ordered by||||||{place} f20|{place} f21",
        f"OBX|1|ST|{place}^CRP {place}^L||{place} val|{place}|||||F||||||M1^{place} method^L",
        f"NTE|1||{note}",
        f"SPM|1|S{place}" + "|" * 19 + f"RJ^{place} rejected^L",
    ])  # fmt: skip
    return [line.split("|") for line in redact(text, lambda _: HASH).split("\r")]


def segment(kept: list[list[str]], name: str) -> list[str]:
    return next(fields for fields in kept if fields[0] == name)


ADDRESSES = [pid(f11="Hauptstrasse 5^^Bern^^3000^CH"), pid(f11="^Bern"), pid(f12="Bern"),
             pid(f23="Bern"), pid(f11="Rue de Bern 5^^Thun")]  # fmt: skip


@pytest.mark.parametrize("patient", ADDRESSES)
def test_a_place_of_the_patients_is_scrubbed_in_free_text_only(patient: str) -> None:
    kept = message(patient, "Bern", "wohnt in Bern")
    msh, obr, obx, spm = (segment(kept, name) for name in ("MSH", "OBR", "OBX", "SPM"))
    assert msh[2:4] == ["LIS", "BERN"] and msh[9] == "MBern9"  # sender and id whole
    assert segment(kept, "ORC")[2:4] == ["PBern", "FBern"] and obr[2:4] == ["PBern", "FBern"]
    # codes and coding systems kept, their texts scrubbed (items 1 and 2)
    assert obr[4] == "Bern^[redacted] panel^L^Bern2^[redacted] alt^L"
    assert obx[3] == "Bern^CRP [redacted]^L" and obx[6] == "Bern"  # the unit
    assert obx[17] == "M1^[redacted] method^L" and obx[5] == "[redacted] val"
    assert obr[13] == "[redacted] x" and obr[20:22] == ["[redacted] f20", "[redacted] f21"]
    assert spm[21] == "RJ^[redacted] rejected^L" and spm[2] == "SBern"
    assert segment(kept, "NTE")[3] == "wohnt in [redacted]"
    blanked = segment(kept, "PID")[4:8] + segment(kept, "PID")[9:]
    assert blanked == [""] * len(blanked)  # PID-11, 12 and 23 blanked, as before


def test_a_street_line_with_its_house_number_is_scrubbed_everywhere() -> None:
    kept = message(pid(f11="Bahnhofstrasse 12^^Bern"), "Bern", "Bahnhofstrasse 12")
    assert segment(kept, "OBR")[14] == "Bern ordered by"  # no free text: the city stays
    assert segment(kept, "NTE")[3] == "[redacted]"
    text = "\r".join(
        [
            "MSH|^~\\&|LIS|BERN|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1",
            pid(f11="Bahnhofstrasse 12^^Bern"),
            f"OBR|1|P1|F1|CRP^CRP^L|||{TS}|||||||||Bahnhofstrasse 12",
        ]
    )
    assert "Bahnhofstrasse" not in redact(text, lambda _: HASH)


NOTE = "Bad sample, Sent back; bei Bad Homburg; Homburg. Sent bei Scuol"
KEPT = "Bad sample, Sent back; bei [redacted]; Homburg. Sent bei Scuol"


@pytest.mark.parametrize(
    ("patient", "expected"),
    [(pid(f11="Hauptstrasse 5^^Bad Homburg"), KEPT), (pid(f23="Bad Homburg"), KEPT),
     (pid(f12="Bad Homburg"), KEPT),
     (pid(f11="Hauptstrasse 5^^Sent bei Scuol"), NOTE.replace("Sent bei Scuol", "[redacted]")),
     (pid(f23="Sent bei Scuol"), NOTE.replace("Sent bei Scuol", "[redacted]")),
     # a street's (an other designation's) words of five letters or more: Homburg
     (pid(f11="Hauptstrasse 5^Bad Homburg"), KEPT.replace("Homburg.", "[redacted].")),
     (pid(f11="Bad Homburger Weg 5"), NOTE)],
)  # fmt: skip
def test_a_multi_word_place_is_scrubbed_as_its_whole_phrase(patient: str, expected: str) -> None:
    """Not its everyday words (``Bad``, ``Sent``, ``bei``) wherever a note writes them."""
    assert segment(message(patient, "X", NOTE), "NTE")[3] == expected


def test_a_one_word_place_is_scrubbed_as_that_word() -> None:
    kept = message(pid(f11="Hauptstrasse 5^^Sent"), "X", "Sent back; lives in Sent.")
    assert segment(kept, "NTE")[3] == "[redacted] back; lives in [redacted]."


def test_a_streets_short_words_are_found_only_in_its_whole_name() -> None:
    assert street_words("Bad Homburger Weg 5") == ["Bad Homburger Weg", "Homburger"]
    assert street_words("Haus Sonnenberg") == ["Haus Sonnenberg", "Sonnenberg"]
    assert street_words("Dorf 12") == ["Dorf"]  # the street's name: one word
    assert street_words("ZZSTREET 12") == ["ZZSTREET"]
    kept = message(pid(f11="Bad Homburger Weg 5"), "X", "Bad sample; Homburger Weg; Weg.")
    assert segment(kept, "NTE")[3] == "Bad sample; [redacted] Weg; Weg."


# --- FHIR and JSON ---------------------------------------------------------------------


def fhir_patient(**more: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1",
            "identifier": [{"system": "urn:hosp", "value": "MRN4711"}], **more}  # fmt: skip


def test_fhir_places_are_scrubbed_in_text_never_in_codes_systems_or_ids() -> None:
    patient = fhir_patient(
        address=[{"line": ["Bad Homburger Weg 5"], "city": "Bern", "postalCode": "3000"}],
        extension=[{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                    "valueAddress": {"city": "Bad Homburg"}}],
    )  # fmt: skip
    body = crp_observation(
        contained=[patient],
        subject={"reference": "#p1"},
        identifier=[{"system": "urn:bern", "value": "BERN-1"}],
        meta={"source": "LIS BERN"},
        code={"coding": [{"system": "http://loinc.org", "code": "1988-5", "display": "CRP Bern"},
                         {"system": "urn:lab:bern", "code": "BERN"}],
              "text": "CRP Bern, Bad sample, Bad Homburg"},
        method={"text": "Bern method; Homburger Weg 5; Bahnhof"},
    )  # fmt: skip
    copy = redact_fhir(body, lambda s: f"HMAC:{len(s)}")
    assert copy["meta"] == {"source": "LIS BERN"}
    assert copy["identifier"] == [{"system": "urn:bern", "value": "BERN-1"}]
    assert copy["code"]["coding"][0]["display"] == "CRP [redacted]"
    assert copy["code"]["coding"][1] == {"system": "urn:lab:bern", "code": "BERN"}
    assert copy["code"]["text"] == "CRP [redacted], Bad sample, [redacted]"
    assert copy["method"]["text"] == "[redacted] method; [redacted] Weg 5; Bahnhof"


@pytest.mark.parametrize("reference", ["urn:hosp|MRN6666", "MRN6666", "urn:hosp:MRN6666"])
@pytest.mark.parametrize(("kind", "key"), [("Patient", "other"), ("Person", "target")])
def test_a_linked_reference_that_is_no_resource_reference_is_hashed(
    reference: str, kind: str, key: str
) -> None:
    link = {"type": "seealso", key: {"reference": reference}} if key == "other" else {
        key: {"reference": reference}}  # fmt: skip
    resource = {"resourceType": kind, "id": "p1", "link": [link],
                "identifier": [{"system": "urn:hosp", "value": "MRN4711"}]}  # fmt: skip
    body = crp_observation(
        contained=[resource], subject={"reference": "#p1"}, method={"text": "see MRN6666"}
    )
    copy = redact_fhir(body, lambda s: f"HMAC:{len(s)}")
    assert "MRN6666" not in json.dumps(copy), copy
    kept = copy["contained"][0]["link"][0][key]["reference"]
    assert kept in ("urn:hosp|HMAC:7", "HMAC:7", "urn:hosp:HMAC:7"), kept


@pytest.mark.parametrize(
    "reference", ["Patient/p2", "#p2", "urn:uuid:6b1f3a2e-0c1d-4f7e-9a3b-5d2c1e0f9a11",
                  "https://fhir.example.org/fhir/Patient/p2/_history/3"],
)  # fmt: skip
def test_a_linked_resource_reference_is_kept_as_any_reference_to_a_person(
    reference: str,
) -> None:
    link = {"type": "seealso", "other": {"reference": reference}}
    body = crp_observation(contained=[fhir_patient(link=[link])], subject={"reference": "#p1"})
    kept = redact_fhir(body, lambda s: f"H{len(s)}")["contained"][0]["link"][0]["other"]
    assert kept["reference"] == reference.replace("Patient/p2", "Patient/H2")


JSON_RESULT = {"result_id": "R1", "loinc": "1988-5", "value": "5", "unit": "furlongs",
               "status": "final", "collected_at": "1951-03-17T08:00:00+01:00"}  # fmt: skip


def json_body(**patient: object) -> dict[str, Any]:
    return {"message_id": "BERN-1", "source": {"application": "LIS", "facility": "BERN"},
            "patient": {"identifier": "MRN4711", **patient},
            "results": [{**JSON_RESULT, "reference_range": "Bern 0-5"}]}  # fmt: skip


def test_json_places_are_scrubbed_in_text_never_in_the_source_or_ids() -> None:
    copy = redact_json(json_body(city="Bern", address="Bahnhofstrasse 12"), lambda s: "H")
    assert copy["source"] == {"application": "LIS", "facility": "BERN"}
    assert copy["message_id"] == "BERN-1"
    assert copy["results"][0]["reference_range"] == "[redacted] 0-5"


@pytest.mark.parametrize("birth", ["1951-03-17", "17.03.1951", "19510317", "03/17/1951"])
def test_a_json_birth_date_in_any_spelling_is_scrubbed_from_a_collection_time(
    birth: str,
) -> None:
    copy = redact_json(json_body(birth_date=birth), lambda s: "H")
    assert copy["results"][0]["collected_at"] == "[redacted]T08:00:00+01:00", copy
