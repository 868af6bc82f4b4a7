"""The codes of `lab.results.v1` and `lab.rejected.v1` payloads: analytes and their canonical
units, statuses, comparators, channels (re-exported by ``shared.contracts.events.lab``)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Analyte(StrEnum):
    """The trial analyte a result is, by the LOINC code the laboratory sent (PROTOCOL
    section 6; ``loinc`` carries the code): ``crp`` C-reactive protein (1988-5; hs-CRP
    30522-7; in moles 76485-2, hs 76486-0), ``neutrophils`` absolute neutrophil count (751-8,
    26499-4; manual count 753-4), ``platelets`` (777-3, 26515-7; manual count 778-1),
    ``haemoglobin`` (718-7; in moles 59260-0), ``alt`` (1742-6; with P-5'-P 1743-4), ``ast``
    (1920-8; with P-5'-P 30239-8), ``bilirubin`` total bilirubin, PROTOCOL's "total
    bilirubin" (1975-2; in moles 14631-6; direct bilirubin is never published as it),
    ``creatinine`` (2160-0, 14682-9)."""

    CRP = "crp"
    NEUTROPHILS = "neutrophils"
    PLATELETS = "platelets"
    HAEMOGLOBIN = "haemoglobin"
    ALT = "alt"
    AST = "ast"
    BILIRUBIN = "bilirubin"
    CREATININE = "creatinine"


# PROTOCOL section 6: every result is published in its analyte's canonical unit (UCUM codes:
# the protocol's x10^9/L is 10*9/L). A contract: lab-ingestion converts to it, and consumers
# compare values with thresholds in it.
CANONICAL_UNITS: Final[Mapping[Analyte, str]] = MappingProxyType(
    {
        Analyte.CRP: "mg/L",
        Analyte.NEUTROPHILS: "10*9/L",
        Analyte.PLATELETS: "10*9/L",
        Analyte.HAEMOGLOBIN: "g/dL",
        Analyte.ALT: "U/L",
        Analyte.AST: "U/L",
        Analyte.BILIRUBIN: "mg/dL",
        Analyte.CREATININE: "mg/dL",
    }
)


class ResultStatus(StrEnum):
    """``final`` (HL7 OBX-11 F; FHIR and JSON final) or ``corrected`` (HL7 C; FHIR corrected
    or amended; JSON corrected). Preliminary results are never published."""

    FINAL = "final"
    CORRECTED = "corrected"


class Comparator(StrEnum):
    """A censored value's relation to the number published (FHIR Quantity.comparator, HL7
    SN.1): the laboratory reported a limit, not a measurement."""

    BELOW = "<"
    AT_MOST = "<="
    ABOVE = ">"
    AT_LEAST = ">="


class Channel(StrEnum):
    """How the message came in: ``mllp`` (HL7 v2 over MLLP), ``hl7-http`` (HL7 v2 by
    ``POST /v1/hl7``), ``fhir`` (``POST /fhir/Observation``, ``POST /fhir``), ``json``
    (``POST /v1/lab-results``)."""

    MLLP = "mllp"
    HL7_HTTP = "hl7-http"
    FHIR = "fhir"
    JSON = "json"
