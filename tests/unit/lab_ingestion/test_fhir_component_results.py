"""A trial analyte carried in an Observation's ``component`` is never silently
ignored.

An Observation's components are its values (FHIR R4 Observation.component: "each component
... is a separate observation value"); a laboratory system that sends a blood count as one
panel Observation (code 58410-2 "CBC panel") carries its neutrophil and platelet counts as
components, each with its own LOINC code, value and unit. Today only Observation.code is
looked at: in a Bundle (batch or transaction) such an Observation's entry is answered
"ignored" (200, informational) as another test's would be (posted alone it is refused,
422 unknown-analyte), so a grade-4 neutrophil count of 0.3 x10^9/L reaches no rule,
and the lab is told
all is well. PROTOCOL sections 4-5 hold a dose on that count; a result the platform cannot
use must be refused with a reason (PROTOCOL section 6: "a rejection with a reason, never a
guess"; README: an unusable trial result is refused, never left out behind a success
answer). The correct behaviour: read the component as the trial result, or refuse the
Observation (an error the lab is told), never answer it as another test's.
"""

from __future__ import annotations

import decimal
import json
from typing import Any

from services.lab_ingestion.adapters.fhir_bundle import BATCH, TRANSACTION, parse_bundle
from services.lab_ingestion.adapters.fhir_outcome import FhirInputError

UCUM = "http://unitsofmeasure.org"


def _cbc_panel() -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:lab", "value": "CBC-78"}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2",
                             "display": "CBC panel - Blood by Automated count"}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN4711"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
             "valueQuantity": {"value": 0.3, "unit": "10^9/L", "system": UCUM,
                               "code": "10*9/L"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "777-3"}]},
             "valueQuantity": {"value": 18, "unit": "10^9/L", "system": UCUM,
                               "code": "10*9/L"}},
        ],
    }  # fmt: skip


def _decoded(resource: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(json.dumps(resource), parse_float=decimal.Decimal)
    return decoded


def _bundle(kind: str) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind,
            "entry": [{"fullUrl": "urn:uuid:1", "resource": _decoded(_cbc_panel()),
                       "request": {"method": "POST", "url": "Observation"}}]}  # fmt: skip


def test_a_batch_entry_of_such_a_panel_is_read_or_refused_never_ignored() -> None:
    (entry,) = parse_bundle(_bundle(BATCH), "LIS", "FHIR").entries
    assert not entry.ignored, "grade-4 neutrophils and platelets answered 200 'ignored'"
    assert entry.error is not None or (
        entry.message is not None
        and any(c.code == "751-8" for o in entry.message.observations for c in o.codes)
    )


def test_a_transaction_of_such_a_panel_is_read_or_refused_never_ignored() -> None:
    try:
        parsed = parse_bundle(_bundle(TRANSACTION), "LIS", "FHIR")
    except FhirInputError:
        return  # refused: the lab is told
    (entry,) = parsed.entries
    assert not entry.ignored, "grade-4 neutrophils and platelets answered 200 'ignored'"
