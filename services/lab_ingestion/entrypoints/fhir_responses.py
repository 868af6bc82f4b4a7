"""What lab-ingestion answers on its FHIR routes: OperationOutcomes and response Bundles.

Every answer is ``application/fhir+json``: errors of authentication, size and availability
too. A response Bundle has exactly one entry per request entry, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web

from services.lab_ingestion.adapters.fhir_bundle import BundleEntry, ParsedBundle
from services.lab_ingestion.adapters.fhir_outcome import (
    FhirInputError,
    Issue,
    input_error,
    operation_outcome,
)
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.domain.reason_wording import fhir_element
from services.lab_ingestion.entrypoints.outcomes import ANSWER_LOST_TEXT
from services.lab_ingestion.service_layer.commands import IngestOutcome

FHIR_JSON = "application/fhir+json"
MAX_REASON = 500  # characters of a stored rejection reason
RETRY_AFTER = {"Retry-After": "5"}
TRANSIENT_TEXT = "temporary internal error; nothing was stored, resend later"
# a Bundle's entries, some stored with their answers lost (``ANSWER_LOST_TEXT``), the others not
PARTLY_LOST_TEXT = (
    "temporary internal error; some entries were stored but their answers were lost, the"
    " others not: resend it to learn what was stored"
)
PATIENT_TEXT = "Patient used for matching only; it is not stored"
CONTEXT_TEXT = "{} read as the report's context only; it is not stored"
_ISSUE_CODES = {401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
                406: "not-supported", 413: "too-costly", 503: "transient"}  # fmt: skip
# the FHIR paths this service serves and their methods (a GET route takes HEAD too); each
# with a trailing slash too: many engines' base URL ends in one (review 131)
SERVED = {"/fhir": "POST", "/fhir/Observation": "POST", "/fhir/metadata": "GET, HEAD"}
FHIR_METHODS = {**SERVED, **{f"{path}/": methods for path, methods in SERVED.items()}}
# a stored result is never updated (a change is a new result): each is version 1
VERSION = "1"
ETAG = f'W/"{VERSION}"'
# a token bound to several senders, none <token name>^FHIR (``senders.fhir_sender_known``): 403
SEVERAL_SENDERS = input_error(
    "forbidden", "this token is bound to several senders and a FHIR resource names none: "
    "which sender it is from cannot be told; use a token bound to one sender", "",
    RejectionCode.UNKNOWN_SOURCE,
)  # fmt: skip


async def fhir_fallback(request: web.Request) -> web.Response:
    """Any other method (405, with Allow) or path (404) under /fhir, answered as an
    OperationOutcome too."""
    allowed = FHIR_METHODS.get(request.path)
    if allowed is not None:
        response = fhir_error(405, "Method Not Allowed", f"{request.path} takes {allowed} only")
        response.headers["Allow"] = allowed
        return response
    return fhir_error(
        404, "Not Found",
        "this service takes POST /fhir/Observation, POST /fhir and GET /fhir/metadata",
    )  # fmt: skip


_REASONS = {
    200: "200 OK",
    201: "201 Created",
    400: "400 Bad Request",
    403: "403 Forbidden",
    422: "422 Unprocessable Entity",
    503: "503 Service Unavailable",
}


def fhir_json(body: dict[str, Any], status: int = 200) -> web.Response:
    headers = RETRY_AFTER if status == 503 else None
    return web.json_response(body, status=status, content_type=FHIR_JSON, headers=headers)


def fhir_error(status: int, title: str, detail: str) -> web.Response:
    """An error as an OperationOutcome (401 login, 403 forbidden, 413 too-costly, ...)."""
    code = _ISSUE_CODES.get(status, "processing")
    return fhir_json(operation_outcome([Issue("error", code, f"{title}: {detail}")]), status)


def invalid(error: FhirInputError, status: int = 400) -> web.Response:
    return fhir_json(operation_outcome(error.issues), status)


def unavailable(*outcomes: IngestOutcome) -> web.Response:
    """503, saying what ``outcomes`` (transient ones) stored (none given: nothing)."""
    return fhir_error(503, "Service Unavailable", transient_text(outcomes))


def transient_text(outcomes: Iterable[IngestOutcome]) -> str:
    """What transient ``outcomes`` stored: nothing (``TRANSIENT_TEXT``), or something whose
    answer was lost (``ANSWER_LOST_TEXT``), or, of several, some of them."""
    lost = [outcome.answer_lost for outcome in outcomes if outcome.transient]
    if lost and all(lost):
        return ANSWER_LOST_TEXT
    return PARTLY_LOST_TEXT if any(lost) else TRANSIENT_TEXT


def rejection_of(error: FhirInputError) -> tuple[RejectionCode, str]:
    """The rejection code and stored reason of invalid input: each issue's location and
    diagnostics ("Observation.code: Field required")."""
    unsupported = bool(error.issues) and all(i.code == "not-supported" for i in error.issues)
    code = RejectionCode.UNSUPPORTED_MESSAGE if unsupported else RejectionCode.MALFORMED
    code = error.rejection or code
    return code, (str(error) or "invalid FHIR resource")[:MAX_REASON]


def outcome_reason(outcome: IngestOutcome) -> str:
    """Why a message was not accepted: its rejection code and reason."""
    return f"{outcome.code.value}: {outcome.reason}" if outcome.code else outcome.reason


def observation_response(outcome: IngestOutcome) -> web.Response:
    """The answer to ``POST /fhir/Observation``; a create (201) names the stored result in
    its ``Location``."""
    status, issue = _result(outcome)
    response = fhir_json(operation_outcome([issue]), status)
    if (location := _location(status, outcome)) is not None:
        response.headers["Location"] = location
        response.headers["ETag"] = ETAG
    return response


def _location(status: int, outcome: IngestOutcome) -> str | None:
    """``Observation/<stored result id>/_history/1`` of a create (201: ``_result``; FHIR R4
    http.html#create: the new logical id and version id); None for any other answer (a
    duplicate, a patient not enrolled, a withdrawal: nothing was created)."""
    if status != 201:
        return None
    return f"Observation/{outcome.result_ids[0]}/_history/{VERSION}"


def transaction_response(bundle: ParsedBundle, outcome: IngestOutcome) -> web.Response:
    """All or nothing: a rejected transaction is one OperationOutcome (422) naming the entry
    that failed it, an accepted one a transaction-response with one entry per request entry
    (each Observation's own result: 201 stored, 200 withdrawn, duplicate or patient not
    enrolled)."""
    if outcome.transient or not outcome.accepted:
        status, issue = _result(outcome)  # where: the entry, and its element if one is named
        entry = _in_entry(_failed_entry(bundle, outcome), issue.expression)
        return fhir_json(operation_outcome([issue._replace(expression=entry)]), status)
    parts = iter(outcome.parts)
    entries = [_unstored(e) if e.message is None else _entry(next(parts)) for e in bundle.entries]
    return fhir_json(_response_bundle("transaction-response", entries))


def _failed_entry(bundle: ParsedBundle, outcome: IngestOutcome) -> str | None:
    """``Bundle.entry[i].resource`` of the Observation that failed a transaction: its
    messages are the request's entries other than the Patient, in order."""
    observations = [i for i, entry in enumerate(bundle.entries) if entry.message is not None]
    part = outcome.failed_part
    if part is None or not 0 <= part < len(observations):
        return None
    return f"Bundle.entry[{observations[part]}].resource"


def _in_entry(entry: str | None, element: str | None) -> str | None:
    """``Bundle.entry[i].resource``, and the Observation's element there when the reason
    names one (``Observation.effective[x]``: ``Bundle.entry[i].resource.effective[x]``);
    None when which entry failed is not known."""
    if entry is None or element is None:
        return entry
    return entry + element.removeprefix("Observation")


Entry = tuple[int, list[Issue], str | None]  # a response entry: status, issues, location


def _entry(outcome: IngestOutcome) -> Entry:
    status, issue = _result(outcome)
    return status, [issue], _location(status, outcome)


def batch_response(bundle: ParsedBundle, outcomes: Sequence[IngestOutcome | None]) -> web.Response:
    """Each entry on its own; ``outcomes[i]`` is what storing entry ``i`` (or its
    rejection) gave, None for a Patient."""
    entries = [_batch_entry(e, o) for e, o in zip(bundle.entries, outcomes, strict=True)]
    return fhir_json(_response_bundle("batch-response", entries))


def _batch_entry(entry: BundleEntry, outcome: IngestOutcome | None) -> Entry:
    answered = outcome is not None and (
        outcome.transient or outcome.code is RejectionCode.UNKNOWN_SOURCE  # its sender is gone
    )
    if entry.error is not None and not answered:
        return 400, entry.error.issues, None  # and its rejection was kept
    if outcome is None:
        return _unstored(entry)
    return _entry(outcome)


def _result(outcome: IngestOutcome) -> tuple[int, Issue]:
    """201 Created only with a stored result to name (FHIR: its Location); any other
    accepted Observation created nothing (200)."""
    if outcome.transient:
        return 503, Issue("error", "transient", transient_text([outcome]))
    # where the issue lies: the one Observation element its reason names (``fhir_element``)
    element = fhir_element(outcome.reason)
    if outcome.code is RejectionCode.UNKNOWN_SOURCE:  # the token's sender is not configured
        return 403, Issue("error", "forbidden", outcome_reason(outcome), element)
    if not outcome.accepted:
        return 422, Issue("error", "processing", outcome_reason(outcome), element)
    if outcome.result_ids:
        return 201, _info("accepted and stored")
    return 200, _info(_nothing_created(outcome))


def _nothing_created(outcome: IngestOutcome) -> str:
    if outcome.duplicate and outcome.held_elsewhere:
        return "duplicate of the result another sender (the lab's other feed) holds: none stored"
    if outcome.duplicate:
        return "duplicate of a result already stored; nothing changed"
    if not outcome.enrolled:
        return "accepted; the patient is not enrolled, so nothing was stored"
    if outcome.cancelled:  # entered-in-error or cancelled: the earlier result withdrawn
        return "accepted; the earlier result under this identifier was withdrawn: none stored"
    if outcome.not_obtained:  # cancelled (or without a value) where nothing was ever held
        return NOT_OBTAINED_TEXT
    return "accepted; no result was stored under this identifier: nothing changed"


def _unstored(entry: BundleEntry) -> Entry:
    """A Patient's entry, a lab report's context entry, or an Observation's of no trial
    analyte: nothing to store."""
    if entry.context is not None:
        text = CONTEXT_TEXT.format(entry.context)
        return 200, [_info(f"{text}; {CONTAINED_IGNORED_TEXT}" if entry.ignored else text)], None
    return 200, [_info(IGNORED_TEXT if entry.ignored else PATIENT_TEXT)], None


IGNORED_TEXT = "no result (yet) of an analyte the trial follows: ignored, nothing stored"
CONTAINED_IGNORED_TEXT = (
    "its contained Observations hold no result (yet) of an analyte the trial follows: ignored"
)
# a test cancelled before it was resulted, or a result without a value, under an identifier
# that never held a result: left out as HL7's X there is (``fhir_cancellations``)
NOT_OBTAINED_TEXT = (
    "accepted; no result obtained (cancelled, or without a value) and none was ever stored "
    "under this identifier: nothing to withdraw, nothing stored"
)


def _info(text: str) -> Issue:
    return Issue("information", "informational", text)


def _response_bundle(kind: str, entries: Sequence[Entry]) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": kind}
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = [
            {"response": {
                "status": _REASONS[status],
                **({"location": location, "etag": ETAG} if location else {}),
                "outcome": operation_outcome(issues),
            }}
            for status, issues, location in entries
        ]  # fmt: skip
    return bundle
