"""The lab.results.v1 contract (shared/contracts/events/lab.py, and the JSON Schema generated
from it) refuses an event a consumer would misread as a result, and reads every event a
schema_version 1 producer ever published.

PROTOCOL section 6: every result is published in its analyte's canonical unit (the model's
own description of ``unit``), as lab-ingestion always did: another unit is refused, and a
consumer dead-letters it with its reason.

Status and ``supersedes_result_id`` are not checked against each other: before 2026-12-03
lab-ingestion published a second final result under one key as ``final`` naming the final
one it replaced, and before 2026-12-02 a correction of a result never stored as
``corrected`` naming none. Its outbox keeps published events 14 days and republishes them
after a broker loses its log; refused, they would be dead-lettered (a CRP value lost, or
on-call paged at every broker restart). crp-monitor drops whatever result an event names
in ``supersedes_result_id``, whatever its status, as it always did. lab-ingestion itself
builds neither any more (tests/unit/lab_ingestion/test_published_event_fields.py).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.lab_ingestion.domain import analytes
from shared.contracts.events.lab import CANONICAL_UNITS, Analyte, LabResultRecorded
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.handling import PoisonMessage
from shared.messaging.processing import decode_message
from tests.factories import crp_result

SCHEMA = (
    Path(__file__).resolve().parents[2] / "schemas/lab.results.v1/LabResultRecorded.v1.schema.json"
)


def _payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "result_id": str(uuid.uuid4()),
        "analyte": "crp",
        "loinc": "1988-5",
        "value": 12.5,
        "unit": "mg/L",
        "original_value": "12.5",
        "original_unit": "mg/L",
        "status": "final",
        "collected_at": datetime(2026, 11, 20, 7, 15, tzinfo=UTC).isoformat(),
        "source": "LIS^HOSP",
        "channel": "mllp",
    }
    payload.update(changes)
    return payload


def test_the_valid_event_is_accepted() -> None:
    LabResultRecorded.model_validate(_payload())
    LabResultRecorded.model_validate(
        _payload(status="corrected", supersedes_result_id=str(uuid.uuid4()))
    )


def test_a_final_result_naming_the_result_it_supersedes_is_read() -> None:
    """As published before 2026-12-03 for a second final result under one key."""
    replaced = uuid.uuid4()
    event = LabResultRecorded.model_validate(_payload(supersedes_result_id=str(replaced)))
    assert event.status == "final" and event.supersedes_result_id == replaced


def test_a_corrected_result_naming_no_result_it_supersedes_is_read() -> None:
    """As published before 2026-12-02 for a correction of a result never stored."""
    event = LabResultRecorded.model_validate(_payload(status="corrected"))
    assert event.status == "corrected" and event.supersedes_result_id is None


@pytest.mark.parametrize(
    ("analyte", "unit"),
    [("crp", "mg/dL"), ("crp", "U/L"), ("neutrophils", "/uL"), ("haemoglobin", "g/L"),
     ("creatinine", "umol/L")],
)  # fmt: skip
def test_a_result_not_in_its_analytes_canonical_unit_is_refused(analyte: str, unit: str) -> None:
    """``value`` is read in ``unit``; a consumer that trusts the contract's "canonical unit"
    (safety-alerting grading creatinine against x ULN, a neutrophil threshold of 1.0) would
    misread 88.4 umol/L as 88.4 mg/dL."""
    with pytest.raises(ValidationError):
        LabResultRecorded.model_validate(_payload(analyte=analyte, unit=unit))


def test_every_analyte_has_one_canonical_unit_and_lab_ingestion_converts_to_it() -> None:
    """One table: the contract's, which lab-ingestion's conversions use."""
    assert set(CANONICAL_UNITS) == set(Analyte)
    assert vars(analytes)["CANONICAL_UNITS"] is CANONICAL_UNITS  # imported, not a copy
    for analyte, unit in CANONICAL_UNITS.items():
        assert analytes.canonical_unit(analyte) == unit
        LabResultRecorded.model_validate(_payload(analyte=analyte.value, unit=unit))


@pytest.mark.parametrize(("changes", "said"), [({"unit": "mg/dL"}, "canonical unit")])
def test_a_consumer_dead_letters_an_incoherent_event_with_its_reason(
    changes: dict[str, Any], said: str
) -> None:
    """crp-monitor (and every consumer of lab.results.v1) decodes through
    ``decode_message``: an incoherent payload is poison (a dead letter with its reason),
    never an exception that stops the consumer."""
    document = json.loads(crp_result("S-1", 12.5).to_bytes())
    document["payload"].update(changes)
    message = ConsumedMessage("lab.results.v1", 0, 7, b"S-1", json.dumps(document).encode())
    with pytest.raises(PoisonMessage) as poison:
        decode_message(message)
    assert poison.value.reason_code == "invalid-payload"
    assert said in poison.value.reason


def _holds(rule: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Whether ``payload`` meets one schema rule: the subset the rules use (if/then/else,
    required, properties of const or type string/null)."""
    if "if" in rule:
        branch = rule["then"] if _holds(rule["if"], payload) else rule.get("else", {})
        return _holds(branch, payload)
    if any(name not in payload for name in rule.get("required", ())):
        return False
    for name, condition in rule.get("properties", {}).items():
        if name not in payload:
            continue
        value = payload[name]
        if "const" in condition and value != condition["const"]:
            return False
        kind = condition.get("type")
        if (kind == "null" and value is not None) or (
            kind == "string" and not isinstance(value, str)
        ):
            return False
    return True


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"status": "corrected", "supersedes_result_id": str(uuid.uuid4())},
        {"supersedes_result_id": str(uuid.uuid4())},
        {"supersedes_result_id": None},
        {"status": "corrected"},
        {"status": "corrected", "supersedes_result_id": None},
        *({"analyte": a.value, "unit": u} for a, u in CANONICAL_UNITS.items()),
        {"analyte": "crp", "unit": "mg/dL"},
        {"analyte": "neutrophils", "unit": "/uL"},
        {"analyte": "creatinine", "unit": "umol/L"},
    ],
)
def test_the_committed_json_schema_says_what_the_model_says(changes: dict[str, Any]) -> None:
    """A consumer in another language validates by the JSON Schema: it accepts and refuses
    the same events as the model."""
    payload = _payload(**changes)
    schema = json.loads(SCHEMA.read_text())
    by_schema = all(_holds(rule, payload) for rule in schema["allOf"])
    try:
        LabResultRecorded.model_validate(payload)
        by_model = True
    except ValidationError:
        by_model = False
    assert by_schema == by_model
