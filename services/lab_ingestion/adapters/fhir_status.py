"""A FHIR R4 Observation's status as HL7 OBX-11 writes it, and whether an Observation would
become a trial result (one that would not is ignored, as an HL7 message's other
observations are). A trial analyte in a component (a CBC panel's neutrophil count) makes
the Observation one too, its code recognised as ``Observation.code`` is (review 180: a
misspelt LOINC system, or a CRP's name under an unlisted code, left it ignored): it is
refused (``fhir_unread``), never ignored as another test's. So is a trial analyte's LOINC
code under a coding system that is not LOINC's (a misspelt ``https://loinc.org``:
``trial_code_elsewhere``), refused as no trial result (review 121);
an Observation contained in it that would be a trial result (a panel's member carried in
``contained``, whatever the panel's own status: the member has its own; review 157); and an
Observation named as a trial analyte (``CRP``) under a code the trial does not list, holding
a measurement (``analyte_names``: review 155)."""

from __future__ import annotations

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.domainresource import DomainResource
from fhir.resources.R4B.observation import Observation, ObservationComponent

from services.lab_ingestion.adapters.fhir_values import observation_value
from services.lab_ingestion.domain.analyte_codes import identify_analyte, trial_code_elsewhere
from services.lab_ingestion.domain.analyte_names import unlisted_analyte
from services.lab_ingestion.domain.model import Coding
from services.lab_ingestion.domain.result_status import NO_RESULT

Held = Observation | ObservationComponent  # what holds a value[x] beside its code

STATUS_CODES: dict[str, str] = {
    "final": "F",
    "amended": "C",
    "corrected": "C",
    "preliminary": "P",
    # "no result yet available": HL7's I (specimen in lab, results pending), left out
    "registered": "I",
    "cancelled": "X",
    "entered-in-error": "D",
}
# R4's ObservationStatus (a required binding): any other code is no FHIR status at all;
# "unknown" (the sender does not know which applies) is kept raw and refused as unknown
OBSERVATION_STATUSES = frozenset({*STATUS_CODES, "unknown"})


def of_a_trial_analyte(observation: Observation) -> bool:
    """Whether a code of the Observation, or of one of its components, names a trial analyte
    and it may hold a result (no code: it is checked, and refused, as any Observation is;
    ``registered``: no result yet, ignored as HL7's pending results are), or it contains an
    Observation that would be one (``trial_contained``)."""
    return _holds_trial_result(observation) or trial_contained(observation) is not None


def _holds_trial_result(observation: Observation) -> bool:
    if observation.code is None:
        return True
    if STATUS_CODES.get(observation.status or "") in NO_RESULT:
        return False
    return _names_trial_result(observation.code, observation, observation.status) or bool(
        trial_components(observation)
    )


def trial_contained(resource: DomainResource) -> str | None:
    """The path (``contained[1]``, ``contained[1].contained[0]``) of the first Observation
    contained in ``resource``, or in an Observation it contains, that would be a trial
    result as an Observation entry (``_holds_trial_result``); None when there is none. Other
    contained resources (a Patient, a Specimen) are not looked into: what they contain is no
    result of the report. An explicit stack: no recursion, however deep."""
    stack: list[tuple[str, DomainResource]] = [("", resource)]
    while stack:
        prefix, holder = stack.pop()
        found = [
            (f"{prefix}contained[{index}]", inner)
            for index, inner in enumerate(holder.contained or [])
            if isinstance(inner, Observation)
        ]
        for path, inner in found:
            if _holds_trial_result(inner):
                return path
        stack.extend((f"{path}.", inner) for path, inner in reversed(found))
    return None


def _names_trial_result(concept: CodeableConcept, holder: Held, status: str | None) -> bool:
    """Whether a code (``Observation.code``, a component's) names a trial analyte: by a
    code the trial lists (``identify_analyte``), by a trial analyte's LOINC code under
    another coding system (``trial_code_elsewhere``), or by its name under a code the trial
    does not list while ``holder`` (the Observation, the component) holds a measurement
    (``unlisted_analyte``; ``status``: the Observation's). A component is recognised as
    ``Observation.code`` is (review 180: a misspelt system or a name there was ignored)."""
    codes = _codings(concept)
    if identify_analyte(codes) is not None or trial_code_elsewhere(codes) is not None:
        return True
    read = STATUS_CODES.get(status or "", status or "")
    value = observation_value(holder)[0]
    return unlisted_analyte(codes, names_of(concept), value, "", read) is not None


def names_of(concept: CodeableConcept) -> tuple[str, ...]:
    """What the sender named the test: ``code.text`` and each coding's display."""
    texts = [concept.text, *(c.display for c in concept.coding or [])]
    return tuple(text.strip() for text in texts if text and text.strip())


def trial_components(observation: Observation) -> list[int]:
    """The indices of the components whose code names a trial analyte, recognised as
    ``Observation.code`` is (``_names_trial_result``)."""
    return [
        index
        for index, component in enumerate(observation.component or [])
        if component.code is not None
        and _names_trial_result(component.code, component, observation.status)
    ]


def _codings(concept: CodeableConcept) -> list[Coding]:
    return [Coding(c.code, c.system, c.display) for c in concept.coding or [] if c.code]
