"""The keys a FHIR Observation's result is found by (``fhir_parser``): its identifiers, an
order number's with the test (``result_identifiers``), or else its collection time and test.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fhir.resources.R4B.observation import Observation

from services.lab_ingestion.adapters.fhir_collection import Times, collection_time
from services.lab_ingestion.adapters.fhir_outcome import input_error
from services.lab_ingestion.adapters.fhir_patient_numbers import IDENTIFIER_TYPES
from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import Coding, RejectionCode
from services.lab_ingestion.domain.result_identifiers import (
    MAX_RESULT_IDENTIFIERS,
    ORDER_NUMBER_TYPES,
    IdentifierKeys,
    ResultIdentifier,
    identifier_keys,
)


def result_key(obs: Observation, where: str, times: Times) -> tuple[IdentifierKeys, bool]:
    """The keys a result's corrections and resends find it by, and whether it is untracked.

    The lab's identifiers when it gives any, the key chosen whatever their order, an order
    number's (FILL, PLAC) with the test (``result_identifiers``). Without one the key is the
    collection time and the test, made the patient's (``scoped_to_patient``), as for HL7
    results without an order number: never the resource id, which a create ignores (FHIR),
    so a resend or a changed final under a new id would stand beside the first."""
    identifiers = obs.identifier or []
    if len(identifiers) > MAX_RESULT_IDENTIFIERS:
        raise input_error(
            "too-costly",
            f"{len(identifiers)} identifiers of one result; at most {MAX_RESULT_IDENTIFIERS} "
            "are read", f"{where}.identifier",
        )  # fmt: skip
    keys = identifier_keys([_identifier(i) for i in identifiers], _test_code(obs))
    if keys is not None:
        return keys, False
    collected = collection_time(obs, *times)[0]
    if collected is None:
        raise input_error(
            "required", "without an identifier a result is tracked by its collection time: "
            "give an identifier, or effective[x] (or its Specimen's collection time, or its "
            "DiagnosticReport's effective[x]) with a time and UTC offset", f"{where}.identifier",
            RejectionCode.MISSING_COLLECTION_TIME,
        )  # fmt: skip
    return IdentifierKeys(
        f"@{collected.astimezone(UTC).isoformat()}|{_test_code(obs)}", (), ()
    ), True


def _identifier(ident: Any) -> ResultIdentifier:
    """An Observation identifier, typed when HL7 table 0203 types it (one of its codings)."""
    codings = (ident.type.coding or []) if ident.type is not None else []
    types = sorted(
        c.code for c in codings if c.code in ORDER_NUMBER_TYPES and c.system in IDENTIFIER_TYPES
    )
    return ResultIdentifier(types[0] if types else "", ident.system, ident.value or "")


def _test_code(obs: Observation) -> str:
    """The code an untracked key names the test by: the trial analyte's LOINC code, as
    ``identify_analyte`` reads it, from the codings in code order. FHIR gives a coding list
    no order, so a correction or resend listing the same codings in another order is keyed
    as its original (the first coding's code left the wrong value standing, or stored the
    result twice); sorted, two codes of one analyte (CRP, hs-CRP) give one key too."""
    codings = sorted(
        (Coding(c.code, c.system, c.display) for c in obs.code.coding or [] if c.code),
        key=lambda c: (c.code, c.system or ""),
    )
    identified = identify_analyte(codings)
    return identified[1] if identified else next((c.code for c in codings), "")
