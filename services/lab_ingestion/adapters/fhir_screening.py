"""What a FHIR resource says that makes it no result of its subject's, checked on the JSON as
sent (the models would hide some of it: they read a number as a time):

- test health data: labelled ``HTEST`` (v3-ActReason) in ``meta.security`` or ``meta.tag``
  of the resource or of a resource it contains, as a laboratory's training HL7 message has
  MSH-11 ``T``: never stored by a production deployment (kept as
  ``unsupported-processing-id``);
- an Observation of a trial analyte with a ``focus``: its value is about something or
  someone else than its subject (a donor, a relative, a fetus, a specimen), never the
  subject's own (one of no trial analyte is ignored, focus or not);
- a time the service reads written as a JSON number: FHIR writes ``dateTime`` and
  ``instant`` as strings, and a number would be guessed into Unix seconds or milliseconds;
- a decimal the service reads written as a JSON string (``"value": "15"``): FHIR JSON
  writes decimals as numbers, and the models read ``"15"`` as 15 and ``"1e1"`` as 10
  (review 180).

Diagnostics never echo submitted values.
"""

from __future__ import annotations

from services.lab_ingestion.adapters.fhir_outcome import input_error
from services.lab_ingestion.adapters.hl7_msh import PRODUCTION
from services.lab_ingestion.domain.model import RejectionCode

ACT_REASON_SYSTEMS = frozenset(
    {"http://terminology.hl7.org/CodeSystem/v3-ActReason", "urn:oid:2.16.840.1.113883.5.8"}
)
TEST_DATA = "HTEST"
TEST_DATA_TEXT = (
    "labelled test health data (HTEST): this production system stores patients' results "
    "only; send test data to a test deployment"
)
FOCUS_TEXT = (
    "focus: the result is about something or someone other than its subject (a donor, a "
    "relative, a specimen); only a subject's own result is stored"
)
TIME_TEXT = "a FHIR date and time is a JSON string; a number is not read as a time"
DECIMAL_TEXT = "a FHIR decimal is a JSON number; a string is not read as a number"
# the times an Observation is read by (``fhir_collection.collection_time``, ``issued``)
_TIMES = ("effectiveDateTime", "effectiveInstant", "issued")


def refuse_test_data(resource: object, where: str, processing_id: str = PRODUCTION) -> None:
    """Raise ``FhirInputError`` for a resource (or Bundle) labelled test data, or holding a
    ``contained`` resource so labelled (a test Patient ``#p1`` its subject names: its number
    may be a trial subject's), unless this deployment is a test one (``processing_id``
    ``T``). A label that names no system is taken at its word."""
    if processing_id != PRODUCTION or not isinstance(resource, dict):
        return
    _refuse_labelled(resource, where)
    contained = resource.get("contained")
    for index, inner in enumerate(contained if isinstance(contained, list) else []):
        _refuse_labelled(inner, f"{where}.contained[{index}]")


def _refuse_labelled(resource: object, where: str) -> None:
    meta = resource.get("meta") if isinstance(resource, dict) else None
    if not isinstance(meta, dict):
        return
    for element in ("security", "tag"):
        labels = meta.get(element)
        if isinstance(labels, list) and any(_is_test_data(label) for label in labels):
            raise input_error(
                "business-rule", TEST_DATA_TEXT, f"{where}.meta.{element}",
                RejectionCode.WRONG_PROCESSING_ID,
            )  # fmt: skip


def _is_test_data(label: object) -> bool:
    if not isinstance(label, dict) or label.get("code") != TEST_DATA:
        return False
    system = label.get("system")
    return system is None or system in ACT_REASON_SYSTEMS


def refuse_focus(resource: object, where: str) -> None:
    """Raise ``FhirInputError`` for an Observation with a focus. Checked only on one that
    would become a trial result: one of no trial analyte is ignored, whatever it is about."""
    if isinstance(resource, dict) and resource.get("focus"):
        raise input_error("not-supported", FOCUS_TEXT, f"{where}.focus")


def screen_times(resource: object, where: str) -> None:
    """Raise ``FhirInputError`` for an Observation with a time it is read by written as
    anything but a string (not an object: validation tells it). Invalid FHIR, checked on
    every Observation before the models (which would read it as a time) validate it."""
    if not isinstance(resource, dict):
        return
    times = [(name, resource.get(name)) for name in _TIMES]
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        times += [(f"effectivePeriod.{name}", period.get(name)) for name in ("start", "end")]
    contained = resource.get("contained")
    for index, inner in enumerate(contained if isinstance(contained, list) else []):
        times += [(f"contained[{index}].{p}", v) for p, v in _specimen_times(inner)]
    for path, value in times:
        if value is not None and not isinstance(value, str):
            raise input_error("structure", TIME_TEXT, f"{where}.{path}")


def screen_decimals(resource: object, where: str) -> None:
    """Raise ``FhirInputError`` for a decimal an Observation is read by (``valueQuantity``'s
    value, a reference range's ``low`` and ``high`` values) written as a JSON string.
    Invalid FHIR, checked on every Observation once validated (validation tells a string
    that is no number); a component's values are not read (a trial one is refused)."""
    if not isinstance(resource, dict):
        return
    quantities = [("valueQuantity", resource.get("valueQuantity"))]
    ranges = resource.get("referenceRange")
    for index, ref in enumerate(ranges if isinstance(ranges, list) else []):
        if isinstance(ref, dict):
            quantities += [(f"referenceRange[{index}].{b}", ref.get(b)) for b in ("low", "high")]
    for path, quantity in quantities:
        if isinstance(quantity, dict) and isinstance(quantity.get("value"), str):
            raise input_error("structure", DECIMAL_TEXT, f"{where}.{path}.value")


def screen_specimen_times(resource: object, where: str) -> None:
    """``screen_times`` for a Specimen entry: its collection time is read (review 121)."""
    for path, value in _specimen_times(resource):
        if value is not None and not isinstance(value, str):
            raise input_error("structure", TIME_TEXT, f"{where}.{path}")


def screen_report_times(resource: object, where: str) -> None:
    """``screen_times`` for a DiagnosticReport entry: its ``effective[x]`` and ``issued``
    are read as its results' (review 131)."""
    if not isinstance(resource, dict):
        return
    period = resource.get("effectivePeriod")
    times = [(name, resource.get(name)) for name in ("effectiveDateTime", "issued")]
    if isinstance(period, dict):
        times += [(f"effectivePeriod.{name}", period.get(name)) for name in ("start", "end")]
    for path, value in times:
        if value is not None and not isinstance(value, str):
            raise input_error("structure", TIME_TEXT, f"{where}.{path}")


def _specimen_times(resource: object) -> list[tuple[str, object]]:
    """A Specimen's collection times (``collectedDateTime``, ``collectedPeriod.start``)."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Specimen":
        return []
    collection = resource.get("collection")
    if not isinstance(collection, dict):
        return []
    period = collection.get("collectedPeriod")
    start = period.get("start") if isinstance(period, dict) else None
    return [
        ("collection.collectedDateTime", collection.get("collectedDateTime")),
        ("collection.collectedPeriod.start", start),
    ]
