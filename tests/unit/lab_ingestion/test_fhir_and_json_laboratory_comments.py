"""A laboratory's comment on a result over FHIR (``Observation.note``) and the JSON format
(``laboratory_comment``): only that there is one is read, never its text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.json_parser import JsonInputError, parse_lab_results
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.json_schema import LabResultsIn
from tests.unit.lab_ingestion.fhir_samples import crp_observation, parsed_bundle


def fhir(**changes: Any) -> Any:
    return parse_observation(crp_observation(**changes), "central-lab", "FHIR", lambda s: "h")


@pytest.mark.parametrize(
    ("notes", "commented"),
    [
        (None, False),
        ([], False),
        ([{"text": "Platelet clumps seen"}], True),
        ([{"text": "   "}], False),
        ([{"text": " "}, {"authorString": "Dr WHO", "text": "Sample haemolysed"}], True),
    ],
)
def test_an_observation_note_with_text_is_a_comment(
    notes: list[dict[str, str]] | None, commented: bool
) -> None:
    message = fhir(note=notes)
    (observation,) = message.observations
    assert observation.laboratory_comment is commented
    assert "Platelet" not in repr(message) and "WHO" not in repr(message)


def test_a_bundles_observations_each_say_whether_they_were_commented() -> None:
    noted = crp_observation(
        identifier=[{"system": "urn:lab", "value": "OBS-2"}],
        note=[{"text": "Sample haemolysed"}],
    )
    bundle = parsed_bundle("batch", crp_observation(), noted)
    flags = [
        entry.message.observations[0].laboratory_comment
        for entry in bundle.entries
        if entry.message is not None
    ]
    assert flags == [False, True]


def test_a_version_that_adds_a_note_is_another_message_and_one_without_keeps_its_id() -> None:
    """The control id of a version without a note is the one it had before notes were read
    (a stored version resent is known); a note makes another version (the same id would
    have another content digest: refused as a reused id, which no FHIR client chose)."""
    plain, again = fhir(), fhir(note=[])
    noted = fhir(note=[{"text": "Platelet clumps seen"}])
    other_text = fhir(note=[{"text": "Repeat requested"}])
    assert plain.control_id == again.control_id
    assert noted.control_id != plain.control_id
    assert noted.control_id == other_text.control_id  # the text is no part of it
    assert "clumps" not in (noted.control_id_basis or "")


def json_body(**result: Any) -> dict[str, Any]:
    return {
        "message_id": "LAB-1",
        "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": "MRN-1"},
        "results": [
            {
                "result_id": "R1", "loinc": "777-3", "value": "45", "unit": "10*9/L",
                "status": "final", "collected_at": "2026-11-20T08:00:00+01:00", **result,
            }
        ],
    }  # fmt: skip


def test_the_json_format_says_whether_the_laboratory_commented() -> None:
    assert not parse_lab_results(json_body()).observations[0].laboratory_comment
    flagged = parse_lab_results(json_body(laboratory_comment=True))
    assert flagged.observations[0].laboratory_comment
    assert (
        not parse_lab_results(json_body(laboratory_comment=False))
        .observations[0]
        .laboratory_comment
    )


@pytest.mark.parametrize("value", ["Platelet clumps seen", "true", 1, None])
def test_the_json_flag_is_a_boolean_never_the_comments_text(value: object) -> None:
    with pytest.raises(JsonInputError) as refused:
        parse_lab_results(json_body(laboratory_comment=value))
    assert "results[0].laboratory_comment" in str(refused.value)
    assert "clumps" not in str(refused.value)


def test_the_json_schema_documents_the_flag_and_a_kept_copy_keeps_it() -> None:
    schema = json.dumps(LabResultsIn.model_json_schema())
    assert "laboratory_comment" in schema
    copy = redact_json(json_body(laboratory_comment=True), lambda s: "h" * 64)
    assert copy["results"][0]["laboratory_comment"] is True
