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

Review 199: a place was then kept in every HL7 field the list of free-text fields did not
name (PV2-12, DG1-4, OBR-18/19/39, TQ1-11, SPM-10...); it is scrubbed everywhere but where
the copy is read back (``hl7_places.PLACES_KEPT``). A city written with highlighting was not
found; a secret found as it reads ran a field's components into one; JSON keys holding a
place's word (``email_address``, ``ethnicity``) made their values places; a JSON birth date
sent as a number was not searched.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.hl7_codec import redact
from services.lab_ingestion.adapters.hl7_decoded_scrub import _readings, as_it_reads
from services.lab_ingestion.adapters.hl7_pid3 import decoded_text, escaped_text
from services.lab_ingestion.adapters.hl7_places import (
    CODE_COMPONENTS,
    CODES,
    WHOLE,
    kept_as_written,
)
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.scrub import Scrubber
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
    # codes and coding systems kept, their texts scrubbed (items 1 and 2); OBR-4, which no
    # replay reads, scrubbed in every component (review 207)
    assert obr[4] == "[redacted]^[redacted] panel^L^Bern2^[redacted] alt^L"
    assert obx[3] == "Bern^CRP [redacted]^L" and obx[6] == "Bern"  # the unit
    assert obx[17] == "M1^[redacted] method^L" and obx[5] == "[redacted] val"
    assert obr[13] == "[redacted] x" and obr[20:22] == ["[redacted] f20", "[redacted] f21"]
    assert spm[21] == "RJ^[redacted] rejected^L" and spm[2] == "SBern"
    assert segment(kept, "NTE")[3] == "wohnt in [redacted]"
    blanked = segment(kept, "PID")[4:8] + segment(kept, "PID")[9:]
    assert blanked == [""] * len(blanked)  # PID-11, 12 and 23 blanked, as before


def test_a_street_line_with_its_house_number_is_scrubbed_everywhere() -> None:
    kept = message(pid(f11="Bahnhofstrasse 12^^Bern"), "Bern", "Bahnhofstrasse 12")
    # the city scrubbed everywhere but where the copy is read back (review 199)
    assert segment(kept, "OBR")[14] == "[redacted] ordered by"
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


# --- review 199: places scrubbed everywhere but where a copy is read back ----------------


def redacted(*lines: str) -> dict[str, list[list[str]]]:
    """Each kept segment's fields, by name."""
    header = "MSH|^~\\&|LIS|BERN|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1"
    kept: dict[str, list[list[str]]] = {}
    for line in redact("\r".join([header, *lines]), lambda _: HASH).split("\r"):
        kept.setdefault(line[:3], []).append(line.split("|"))
    return kept


THUN = "Bahnhofstrasse 12^^Thun^^3600^CH"
WRITTEN = "Thun, Bahnhofstrasse"


def test_a_place_in_any_free_text_field_is_scrubbed() -> None:
    """Review 199 item 1: PV2-12, DG1-4, OBR-18/19/39, TQ1-11, SPM-10 and more kept
    ``Thun, Bahnhofstrasse`` (only a list of free-text fields was searched)."""
    kept = redacted(
        pid(f11=THUN),
        "PV1|1|O|Thun Station^^^Thun",
        f"PV2|||R1^Hausbesuch {WRITTEN}^L|||||||||Hausbesuch {WRITTEN}",
        f"DG1|1||D1^{WRITTEN}^L|{WRITTEN}",
        f"OBR|1|P1|F1|CRP^CRP^L|||{TS}|||||||||||{WRITTEN}|{WRITTEN}|||||||"
        f"A1^{WRITTEN}^B|||||||||||||^Entnahme zuhause {WRITTEN}||||^{WRITTEN}|||^{WRITTEN}",
        f"TQ1|1||||||||||{WRITTEN}",
        f"OBX|1|NM|1988-5^CRP^LN||42|mg/L|0-5 {WRITTEN}|H|||F|||{TS}",
        f"NTE|1||aus Thun|C1^{WRITTEN}^L",
        f"SPM|1|S1||BLD^{WRITTEN}^L||||SRC^{WRITTEN}^L||^Wohnung {WRITTEN}^L" + "|" * 14
        + f"CND^{WRITTEN}^L",
    )  # fmt: skip
    text = "\r".join("|".join(fields) for lines in kept.values() for fields in lines)
    assert "Thun" not in text and "Bahnhofstrasse" not in text, text
    assert kept["PV2"][0][12] == "Hausbesuch [redacted], [redacted]"
    assert kept["PV2"][0][3] == "R1^Hausbesuch [redacted], [redacted]^L"  # the code kept
    assert kept["SPM"][0][10] == "^Wohnung [redacted], [redacted]^L"
    assert kept["OBR"][0][39] == "^Entnahme zuhause [redacted], [redacted]"
    assert kept["MSH"][0][2:4] == ["LIS", "BERN"]


def test_a_next_of_kins_city_is_scrubbed_everywhere_but_the_header() -> None:
    kept = redacted(pid(), "NK1|1|DOE^JANE|SPO|Seeweg 4^^Spiez", "OBR|1|P1|F1|||||||||||||||Spiez")
    assert kept["OBR"][0][18] == "[redacted]" and "NK1" not in kept


@pytest.mark.parametrize("field", ["f11", "f12", "f23"])
def test_a_place_written_with_highlighting_is_found_as_it_reads(field: str) -> None:
    """Item 2: PID-11 ``^^\\H\\Bern\\N\\`` left ``aus Bern`` in a note."""
    value = "^^\\H\\Bern\\N\\" if field == "f11" else "\\H\\Bern\\N\\"
    kept = redacted(pid(**{field: value}), "NTE|1||aus Bern")
    assert kept["NTE"][0][3] == "aus [redacted]"


@pytest.mark.parametrize(
    ("address", "written", "expected"),
    [("Bahnhofstrasse 12^^Thun", "1988-5^CRP Hausbesuch Bahnhofstra\\XDF\\e 12^LN",
      "1988-5^CRP Hausbesuch [redacted]^LN"),
     ("^^Zürich", "1988-5^CRP Z\\XFC\\rich^LN", "1988-5^CRP [redacted]^LN"),
     ("^^Thun", "1988-5^CRP Th\\X75\\n&x Thun^LN~1988-5^Z\\XFC\\ri^LN",
      "1988-5^CRP [redacted]&x [redacted]^LN~1988-5^Z\\XFC\\ri^LN")],
)  # fmt: skip
def test_a_secret_found_as_it_reads_keeps_the_fields_components(
    address: str, written: str, expected: str
) -> None:
    """Item 4: ``1988-5\\S\\CRP Hausbesuch [redacted]\\S\\LN``: the components were
    escaped into one, and the copy did not replay."""
    kept = redacted(pid(f11=address), f"OBX|1|NM|{written}||42|mg/L|0-5|H|||F|||{TS}")
    assert kept["OBX"][0][3] == expected


def test_a_name_written_with_escapes_keeps_an_order_reasons_components() -> None:
    kept = redacted(pid(f5="MÜLLER^ANNA"), "ORC|RE|P1|F1" + "|" * 13 + "^Umzug M\\XFC\\ller")
    assert kept["ORC"][0][16] == "^Umzug [redacted]"


@pytest.mark.parametrize(
    ("detail", "message_id", "expected"),
    [({"email_address": "anna.muster@example.org"}, "anna.muster@example.org", "[redacted]"),
     ({"ethnicity": "Walser"}, "Walser-1", "[redacted]-1"),
     ({"address": "anna.muster@example.org"}, "anna.muster@example.org", "[redacted]"),
     ({"contact_address": "Zwyssig"}, "Zwyssig-1", "[redacted]-1"),
     ({"address": {"email": "a.b@example.org", "city": "Thun"}}, "a.b@example.org",
      "[redacted]")],
)  # fmt: skip
def test_a_json_detail_is_a_place_only_under_a_place_key(
    detail: dict[str, Any], message_id: str, expected: str
) -> None:
    """Item 3: any key holding ``address``, ``city``... (``email_address``, ``ethnicity``)
    made its value a place, kept in ids."""
    body = json_body(**detail) | {"message_id": message_id}
    assert redact_json(body, lambda s: "H")["message_id"] == expected


@pytest.mark.parametrize(
    "detail",
    [{"city": "Thun"}, {"postal_code": "Thun"}, {"address": {"city": "Thun"}},
     {"birth_place": "Thun"}, {"town": "Thun"}, {"county": "Thun"}],
)  # fmt: skip
def test_a_json_place_is_scrubbed_in_text_and_kept_in_ids(detail: dict[str, Any]) -> None:
    body = json_body(**detail) | {"message_id": "Thun-1"}
    body["results"][0]["reference_range"] = "Thun 0-5"
    copy = redact_json(body, lambda s: "H")
    assert copy["message_id"] == "Thun-1"
    assert copy["results"][0]["reference_range"] == "[redacted] 0-5"


@pytest.mark.parametrize("birth", [19510317, 19510317.0])
def test_a_json_birth_date_sent_as_a_number_is_searched(birth: object) -> None:
    """Item 5: ``"birth_date": 19510317`` was never searched (not a string)."""
    copy = redact_json(json_body(birth_date=birth), lambda s: "H")
    assert copy["results"][0]["collected_at"] == "[redacted]T08:00:00+01:00", copy


# --- review 199: a place anywhere, in a generated message --------------------------------

SEP = {"component": "^", "repetition": "~", "sub": "&"}
# each segment with as many fields as v2.5.1 gives it (MSH: as the redaction indexes it, its
# field separator not counted: index 2 is MSH-3)
LENGTHS = {"MSH": 20, "PV1": 52, "PV2": 49, "DG1": 21, "ORC": 31, "OBR": 50, "TQ1": 14,
           "OBX": 25, "NTE": 4, "SPM": 29}  # fmt: skip
BASE = {"MSH": "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1",
        "ORC": "ORC|RE|P1|F1", "OBR": f"OBR|1|P1|F1|CRP^CRP^L|||{TS}",
        "OBX": f"OBX|1|NM|1988-5^CRP^LN||42|mg/L|0-5|H|||F|||{TS}", "NTE": "NTE|1||Kommentar",
        "SPM": "SPM|1|S1||BLD^Blut^L", "PV1": "PV1|1|O", "PV2": "PV2|1", "DG1": "DG1|1",
        "TQ1": "TQ1|1"}  # fmt: skip
PLACES = {"Thun": "Thun", "Bad Ragaz": "bad ragaz", "Saint-Imier": "SAINT IMIER",
          "Zürich": "Z\\XFC\\rich"}  # fmt: skip


def fields_of(line: str, length: int) -> list[str]:
    fields = line.split("|")
    return fields + [""] * (length + 1 - len(fields))


@given(
    name=st.sampled_from(sorted(LENGTHS)),
    data=st.data(),
    place=st.sampled_from(sorted(PLACES)),
    patient=st.sampled_from(["f11", "f12", "f23", "nk1"]),
    component=st.integers(0, 9),
    before=st.sampled_from(["", "aus ", "CRP "]),
)
def test_a_place_anywhere_but_where_the_copy_is_read_back_is_scrubbed(
    name: str, data: st.DataObject, place: str, patient: str, component: int, before: str
) -> None:
    """A place of the patient's (or a next of kin's city) written in any component of any
    field is scrubbed, as written or as it reads (``Z\\XFC\\rich``); in a field
    ``PLACES_KEPT`` keeps (the header, ids, a coded element's codes, a result's status and
    times) the field is kept byte for byte."""
    index = data.draw(st.integers(2 if name == "MSH" else 1, LENGTHS[name]), label="index")
    assume((name, index) != ("OBX", 8))  # abnormal flags: only codes kept (``masked_flags``)
    written = "^" * component + before + PLACES[place]
    where = {"f11": "Hauptstrasse 5^^", "f12": "", "f23": ""}.get(patient)
    person = [pid(**{patient: f"{where}{place}"})] if where is not None else [
        pid(), f"NK1|1|ROE^JANE|SPO|Seeweg 4^^{place}"]  # fmt: skip
    lines = {key: fields_of(line, LENGTHS[key]) for key, line in BASE.items()}
    lines[name][index] = written
    order = ["MSH", "PV1", "PV2", "DG1", "ORC", "OBR", "TQ1", "OBX", "NTE", "SPM"]
    text = "\r".join([*("|".join(lines[key]) for key in order[:1]), *person,
                      *("|".join(lines[key]) for key in order[1:])])  # fmt: skip
    kept = {line[:3]: line.split("|") for line in redact(text, lambda _: HASH).split("\r")}
    value = kept[name][index] if index < len(kept[name]) else ""
    how = kept_as_written(name, index)
    if how == WHOLE or (how == CODES and component in CODE_COMPONENTS):
        assert value == written, (name, index, value)
    else:
        separators = ("|", "^", "~", "\\", "&")
        reads = decoded_text(value, separators).lower()
        assert place.lower() not in reads and place.lower().replace("-", " ") not in reads, (
            name,
            index,
            value,
        )
    for key in order:  # no other field changed by the place
        if key != name and key in kept:
            assert kept[key] == lines[key][: len(kept[key])], (key, kept[key])


# --- review 207 ----------------------------------------------------------------------------
# 1. plain text in a coded field no replay reads (ORC-16, OBR-12/31, PV2-3, DG1-3...) was
#    kept as the element's "code"; 2. JSON place keys were matched as whole keys only
#    (``birth_city`` made the sender ``LIS^[redacted]``); 3. each escaped piece cost a scrub
#    call; 4. a rewritten piece's escapes were mangled (``\X 9\``, ``\X2265\``, ``_``).


def thun_lines(note: str = "Kommentar") -> list[str]:
    """Reasons and comments written as plain text where HL7 has a coded element."""
    return [
        pid(f11="Gartenweg 12^^Thun^^3600^CH", f23="Spiez"),
        "PV2|||Sturz zuhause in Thun",
        "DG1|1||Sturz Gartenweg Thun||||Thun|Thun",
        "ORC|RE|P1|F1" + "|" * 13 + "Patient verzogen nach Thun",
        f"OBR|1|P1|F1|CRP Thun^CRP^L|||{TS}|||||Infektioes, wohnt in Thun"
        + "|" * 19
        + "Kontrolle, Patient geboren in Spiez",
        "TQ1|1||||||||Thun",
        f"OBX|1|NM|1988-5^CRP Thun^LN||42|Thun^Thun^L|0-5|H|||F|||{TS}|Thun||Thun^Thun^L",
        f"NTE|1||{note}|Thun",
        "SPM|1|S1||Thun^Blut^L|Thun",
    ]


def test_only_the_coded_fields_a_replay_reads_keep_their_codes() -> None:
    """OBX-3 (the test: its codes make the result key and the digest) and OBX-6 (the unit,
    in the digest) keep their codes; no other coded element does."""
    coded = {
        (name, index)
        for name in ("MSH", "PID", "PV2", "DG1", "ORC", "OBR", "TQ1", "OBX", "NTE", "SPM")
        for index in range(1, 60)
        if kept_as_written(name, index) == CODES
    }
    assert coded == {("OBX", 3), ("OBX", 6)}


def test_a_place_written_as_plain_text_in_a_coded_field_is_scrubbed() -> None:
    kept = redacted(*thun_lines())
    obx = kept["OBX"][0]
    # what the replay reads: OBX-3's and OBX-6's codes, whole
    assert obx[3] == "1988-5^CRP [redacted]^LN" and obx[6] == "Thun^[redacted]^L"
    rest = [f for name, lines in kept.items() for fields in lines for f in fields
            if name != "OBX" or f not in (obx[3], obx[6])]  # fmt: skip
    for place in ("Thun", "Spiez", "Gartenweg"):
        assert not [f for f in rest if place in f], (place, kept)
    assert kept["ORC"][0][16] == "Patient verzogen nach [redacted]"
    assert kept["OBR"][0][12] == "Infektioes, wohnt in [redacted]"
    assert kept["OBR"][0][31] == "Kontrolle, Patient geboren in [redacted]"
    assert kept["OBR"][0][4] == "CRP [redacted]^CRP^L"
    assert kept["PV2"][0][3] == "Sturz zuhause in [redacted]"
    assert kept["DG1"][0][3] == "Sturz [redacted] [redacted]"  # the street's name too
    assert kept["DG1"][0][7:9] == ["[redacted]", "[redacted]"]
    assert kept["TQ1"][0][9] == "[redacted]" and kept["NTE"][0][4] == "[redacted]"
    assert kept["SPM"][0][4:6] == ["[redacted]^Blut^L", "[redacted]"]
    assert obx[15] == "[redacted]" and obx[17] == "[redacted]^[redacted]^L"


def json_copy(detail: dict[str, Any], message_id: str = "J-BERN-1") -> dict[str, Any]:
    body = json_body(**detail) | {"message_id": message_id}
    return redact_json(body, lambda s: "H")


@pytest.mark.parametrize(
    "key",
    ["birth_city", "city_of_birth", "place_of_residence", "home_city", "hometown",
     "city_name", "ort", "wohnort", "cityOfBirth", "birthCity", "HomeTown", "PLACE-OF-BIRTH",
     "geburtsort", "stadt", "gemeinde", "ville", "citta", "zip_code", "postalCode",
     "residence_town", "birth_country"],
)  # fmt: skip
def test_a_json_place_key_is_known_by_its_words(key: str) -> None:
    """Item 2: ``birth_city`` was no place key: the city Bern was scrubbed from the source
    and the message id (``LIS^[redacted]``, ``J-[redacted]-1``)."""
    copy = json_copy({key: "Bern"})
    assert copy["source"] == {"application": "LIS", "facility": "BERN"}, key
    assert copy["message_id"] == "J-BERN-1", key
    assert copy["results"][0]["reference_range"] == "[redacted] 0-5", key


@pytest.mark.parametrize(
    "detail",
    [{"ethnicity": "Bern"}, {"email_address": "Bern"}, {"city_email": "Bern"},
     {"home_city_phone": "Bern"}, {"birth_city": "bern@example.org"},
     {"electricity": "Bern"}, {"report": "Bern"}],
)  # fmt: skip
def test_a_json_key_that_only_holds_a_place_word_is_no_place(detail: dict[str, Any]) -> None:
    """A word, not a substring (``ethnicity``, ``report``); a word that says the value is
    something else (an e-mail, a phone); a value holding ``@``: scrubbed everywhere."""
    (value,) = detail.values()
    assert json_copy(detail, f"{value}-1")["message_id"] == "[redacted]-1", detail


# --- item 3: cost --------------------------------------------------------------------------


def counted_scrubs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = Scrubber.__call__

    def counting(self: Scrubber, text: str) -> str:
        calls.append(len(text))
        return original(self, text)

    monkeypatch.setattr(Scrubber, "__call__", counting)
    return calls


@pytest.mark.parametrize("unit", ["x\\.br\\~", "\\XFC\\~", "Zeile \\.br\\~", "a\\H\\b\\N\\^"])
def test_escaped_pieces_are_scrubbed_a_batch_at_a_time(
    monkeypatch: pytest.MonkeyPatch, unit: str
) -> None:
    """Item 3: a piece holding ``\\.br\\`` cost a scrub call of its own (20,000 of them
    for this note, twice: secrets and places); the pieces are now scrubbed in batches."""
    calls = counted_scrubs(monkeypatch)
    note = unit * 20_000
    kept = redacted(*thun_lines(note))
    assert kept["NTE"][0][3] == note  # nothing to scrub: kept as written
    assert len(calls) < 200, len(calls)


def test_ft_values_with_line_breaks_are_scrubbed_a_batch_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """50 FT results of 40 repeated lines, each ending in ``\\.br\\``: 4,000 scrub calls
    before; the values' readings are scrubbed a few thousand characters at a time."""
    calls = counted_scrubs(monkeypatch)
    value = "~".join(["Zeile\\.br\\"] * 39 + ["Zeile in Thun\\.br\\"])
    lines = [f"OBX|{n}|FT|X{n}^Befund^L||{value}||||||F" for n in range(1, 51)]
    kept = redacted(pid(f11="^^Thun"), *lines)
    assert kept["OBX"][49][5] == value.replace("Thun", "[redacted]")
    assert len(calls) < 60, len(calls)


# --- item 4: escapes around a rewritten piece -----------------------------------------------

ESCAPED_NOTE = (
    "Patient aus Z\\XC3BC\\rich\\X09\\Tab, CRP \\XE289A5\\ 5 \\H\\kritisch\\N\\ \\.in2\\x \\.fi\\y"
)


def test_a_rewritten_piece_keeps_its_other_escapes_as_written() -> None:
    """Item 4: the tab became ``\\X 9\\``, ``≥`` ``\\X2265\\`` (read back as ``"e``), the
    highlighting literal ``_``, ``\\.in2\\`` blanks and ``\\.fi\\`` was dropped."""
    kept = redacted(pid(f11="^^Z\\XFC\\rich"), f"NTE|1||{ESCAPED_NOTE}^Z\\XFC\\rich\\.br\\x")
    assert kept["NTE"][0][3] == (
        "Patient aus [redacted]\\X09\\Tab, CRP \\XE289A5\\ 5 \\H\\kritisch\\N\\ \\.in2\\x "
        "\\.fi\\y^[redacted]\\.br\\x"
    )


def test_text_is_escaped_as_the_parser_reads_it() -> None:
    separators = ("|", "^", "~", "\\", "&")
    assert escaped_text("a\tb≥ü|\r", separators) == "a\\X09\\b\\XE289A5\\\\XC3BC\\\\F\\\\.br\\"


@given(text=st.text(st.characters(codec="utf-8", blacklist_characters="\x00")))
def test_escaped_text_reads_back_as_written(text: str) -> None:
    for separators in (("|", "^", "~", "\\", "&"), ("#", "$", "*", "!", "%")):
        assert decoded_text(escaped_text(text, separators), separators) == text


# (``\x01`` written or spelled: the first joiner ``hl7_decoded_scrub`` would take)
PIECE_PARTS = ["\\X01\\", "\x01", "Z\\XFC\\rich", "Z\\XC3BC\\rich", "Zürich", "\\H\\",
               "\\N\\", "\\.br\\", "\\X09\\", "\\XE289A5\\", "\\.in2\\", "\\.fi\\", "\\E\\",
               " ", "aus ", "x", "\\", "\\XFC", "\\S\\", "Bern"]  # fmt: skip
PIECES = st.lists(st.sampled_from(PIECE_PARTS), max_size=6).map("".join)
# every escape closed (one never closed is masked whole: ``masked_escapes``)
CLOSED = st.lists(st.sampled_from(PIECE_PARTS[:-4] + PIECE_PARTS[-2:]), max_size=6).map("".join)


@given(pieces=st.lists(PIECES, min_size=1, max_size=6))
def test_a_value_read_at_once_reads_as_its_pieces_one_by_one(pieces: list[str]) -> None:
    """Item 3: a value is read in one call where its pieces close every escape they open;
    each piece reads as it did read alone."""
    separators = ("|", "^", "~", "\\", "&")
    alone = [as_it_reads(piece, separators) if "\\" in piece else piece for piece in pieces]
    assert _readings(pieces, separators, "\U000f0000") == alone


@given(pieces=st.lists(CLOSED, min_size=1, max_size=6), joints=st.lists(st.sampled_from("^~&")))
def test_a_place_spelled_with_escapes_is_scrubbed_and_the_rest_reads_as_written(
    pieces: list[str], joints: list[str]
) -> None:
    """Items 3 and 4: every copy of the city found as it reads is gone, the note keeps its
    separators, and a piece without one reads as before."""
    separators = ("|", "^", "~", "\\", "&")
    note = pieces[0] + "".join(j + p for j, p in zip(joints, pieces[1:], strict=False))
    note = f"N {note} E"  # (a note's blanks at either end are not kept)
    kept = redacted(pid(f11="^^Z\\XFC\\rich"), f"NTE|1||{note}")["NTE"][0][3]
    parted = re.compile(r"([\^~&])")
    before, after = parted.split(note), parted.split(kept)
    assert before[1::2] == after[1::2], (note, kept)  # the separators where they were
    for piece, written in zip(before[0::2], after[0::2], strict=True):
        if not ZURICH.search(as_it_reads(piece, separators)) and not AS_WRITTEN.search(piece):
            assert written == piece, (piece, written)
        else:
            assert not ZURICH.search(decoded_text(written, separators)), (piece, written)


ZURICH = re.compile(r"(?<![^\W_])zürich(?![^\W_])", re.IGNORECASE)  # as a whole word
AS_WRITTEN = re.compile(r"(?<![^\W_])z(?:\\xfc\\|ü)rich(?![^\W_])", re.IGNORECASE)
