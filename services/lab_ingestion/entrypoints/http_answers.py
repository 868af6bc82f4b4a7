"""How lab-ingestion's HTTP routes answer in problem+json: the JSON channel's outcomes, and
the answers every route shares (503 with Retry-After, an unreadable body closing the
connection, an internal error logged without its message)."""

from __future__ import annotations

import logging
import traceback

from aiohttp import web

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints import fhir_responses as fhir
from services.lab_ingestion.entrypoints.outcomes import count_outcome
from services.lab_ingestion.service_layer.commands import IngestOutcome
from shared.contracts.events.lab import Channel
from shared.db.faults import TRANSIENT_DB_ERRORS
from shared.web.app import RENDER_KEY, ErrorRenderer, Handler, problem

log = logging.getLogger(__name__)


def json_answer(outcome: IngestOutcome) -> web.Response:
    if outcome.transient:
        return unavailable_problem(outcome)
    if outcome.code is RejectionCode.UNKNOWN_SOURCE:  # a sender the token is not for
        return problem(403, "Sender not permitted", fhir.outcome_reason(outcome))
    if not outcome.accepted:
        return problem(422, "Lab results rejected", _json_reason(outcome))
    return web.json_response(
        {"status": "duplicate" if outcome.duplicate else "accepted",
         "enrolled": outcome.enrolled, "results_stored": outcome.results,
         "results_cancelled": outcome.cancelled},
        status=200 if outcome.duplicate else 202,
    )  # fmt: skip


def _json_reason(outcome: IngestOutcome) -> str:
    """Why, led by the result at fault (``results[1]: ...``) when one result is."""
    reason = fhir.outcome_reason(outcome)
    at = outcome.failed_observation
    return reason if at is None else f"results[{at}]: {reason}"


def closing(response: web.Response) -> web.Response:
    """An answer to a body that could not be read says ``Connection: close``: aiohttp closes
    the connection after it (the rest of the body cannot be told from a next request)."""
    response.force_close()
    return response


def unavailable_problem(outcome: IngestOutcome | None = None) -> web.Response:
    """503 with Retry-After, saying what ``outcome`` stored (none given: nothing)."""
    response = problem(
        503, "Service Unavailable", fhir.transient_text([outcome] if outcome else [])
    )
    response.headers.update(fhir.RETRY_AFTER)
    return response


def log_internal_error(error: Exception, channel: Channel, source: str) -> None:
    """The error's type and where it happened, never its message (it may quote the input)."""
    causes: list[str] = []
    cause: BaseException | None = error
    while cause is not None and len(causes) < 5:
        causes.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    where = "".join(traceback.format_tb(error.__traceback__))
    log.error(
        "internal error storing a %s push from %s (%s); answered 503, nothing stored\n%s",
        channel.value, source, " <- ".join(causes), where,
    )  # fmt: skip


def answering_defects(channel: Channel, metrics: LabIngestionMetrics, handler: Handler) -> Handler:
    """``handler``, a defect it raises (no step of it answers that exception: a parser's or a
    redaction's, on the worker thread too, ``shared.worker_threads``) answered 503 with
    Retry-After in the route's error format, nothing stored, counted as a failure; never a
    500 or a dropped connection (review 232). An HTTP answer raised, or a passing database
    error (``answer_passing_failures``), goes on as before. Inside ``requires``."""

    async def answered(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except TRANSIENT_DB_ERRORS:
            raise
        except Exception as error:
            log_internal_error(error, channel, "a lab token")
            failed = IngestOutcome(accepted=False, transient=True)
            count_outcome(metrics, channel.value, "unknown", failed)
            render: ErrorRenderer = request.get(RENDER_KEY, problem)
            response = render(503, "Service Unavailable", fhir.TRANSIENT_TEXT)
            response.headers.update(fhir.RETRY_AFTER)
            return response

    answered.__name__ = handler.__name__
    answered.__doc__ = handler.__doc__
    return answered
