"""The patient number a conditional reference names (``Patient?identifier=urn:hosp|MRN4711``),
as HAPI-built and EHR transaction Bundles write a subject.

FHIR R4 has a server resolve such a reference by searching (in a transaction it must); this
service keeps no Patients, and the one search it can answer without guessing is by one
identifier: the Patient it finds is the one of that number, so the number is the referenced
Patient's, compared with ``subject.identifier`` as a contained Patient's would be. Any other
search (by name, birth date, several parameters or several numbers) names no number here:
it is refused, never resolved by the identifier beside it. Diagnostics never quote the
reference (it holds the patient's number).
"""

from __future__ import annotations

from urllib.parse import unquote

from services.lab_ingestion.adapters.fhir_patient_numbers import PatientNumbers
from services.lab_ingestion.domain.model import IdentifierCandidate

UNRESOLVABLE_TEXT = (
    "a conditional subject.reference is resolved only as Patient?identifier=system|value "
    "(one identifier parameter naming one number): send the subject's identifier"
)


class UnresolvableReference(ValueError):
    """A conditional reference searching by anything but one patient number."""

    def __init__(self) -> None:
        super().__init__(UNRESOLVABLE_TEXT)


def conditional_numbers(reference: str) -> PatientNumbers | None:
    """The number a conditional reference's identifier parameter names, as the referenced
    Patient's only number; None for a reference that is not conditional. ``urn:hosp|N``
    names N of that system, ``|N`` and ``N`` N of none said; the parameter may be
    percent-encoded (``urn%3Ahosp%7CN``)."""
    path, conditional, query = reference.partition("?")
    if not conditional:
        return None
    if path.rstrip("/").rsplit("/", 1)[-1] != "Patient":  # "?identifier=..." names no type
        raise UnresolvableReference()
    parameters = [parameter for parameter in query.split("&") if parameter]
    if len(parameters) != 1:
        raise UnresolvableReference()
    name, equals, value = parameters[0].partition("=")
    token = unquote(value)
    # a comma is FHIR's "or" (several numbers); a backslash escapes one, or a bar
    if unquote(name) != "identifier" or not equals or any(c in token for c in ",\\"):
        raise UnresolvableReference()
    system, _bar, number = token.partition("|") if "|" in token else ("", "", token)
    if not number.strip() or "|" in number:
        raise UnresolvableReference()
    return PatientNumbers((IdentifierCandidate(number.strip(), system.strip()),))
