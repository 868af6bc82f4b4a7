"""HTTP routes of crp-monitor: translate requests, call the service layer, render.

A route that fails because PostgreSQL is down is answered 503 with Retry-After by the shared
app (``shared.web.app.answer_passing_failures``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.crp_monitor.service_layer.queries import CrpSeries
from shared.auth import Role
from shared.contracts.events.lab import Comparator, ResultStatus
from shared.subject_access import SITE_NOT_NAMED, SiteNotNamed, subject_scope
from shared.web.app import PRINCIPAL_KEY, problem, requires

READERS = (Role.SITE, Role.SAFETY, Role.UNBLINDED, Role.OPS)
# The longest subject id an event can carry (the envelope's subject_id, shared/contracts)
SUBJECT_ID_MAX_LENGTH = 64
NOT_A_SUBJECT_ID = f"not a subject id: longer than {SUBJECT_ID_MAX_LENGTH} characters, or a NUL"


def routes(crp_series: CrpSeries) -> list[web.RouteDef]:
    """``crp_series``: the read side's query (``service_layer.queries.crp_series``, bound to
    its read-only unit of work by the composition root)."""

    @requires(*READERS)
    async def get_crp(request: web.Request) -> web.StreamResponse:
        try:  # a site token reads its own site's subjects only
            scope = subject_scope(request[PRINCIPAL_KEY])
        except SiteNotNamed:
            return problem(403, "Forbidden", SITE_NOT_NAMED)
        subject_id = request.match_info["subject_id"]
        if not can_be_subject_id(subject_id):
            return problem(400, "Bad Request", NOT_A_SUBJECT_ID)
        body = await crp_series(subject_id, scope)
        if body is None:  # unknown, or another site's: the same answer, nothing leaks
            return problem(404, "Not Found", f"no subject {subject_id!r}")
        return web.json_response(body)

    return [web.get("/v1/subjects/{subject_id}/crp", get_crp)]


def can_be_subject_id(text: str) -> bool:
    """False for what no subject can be called: longer than the contract allows, or with a
    NUL (PostgreSQL's text cannot hold one, so no service ever stored such a subject). A
    client that sends one has a bug (400), unlike one asking for a subject not enrolled yet
    (404)."""
    return len(text) <= SUBJECT_ID_MAX_LENGTH and "\x00" not in text


_POINT: dict[str, Any] = {
    "type": "object",
    "required": ["result_id", "crp_mg_l", "comparator", "collected_at", "status"],
    "properties": {
        "result_id": {"type": "string", "format": "uuid"},
        "crp_mg_l": {
            "type": "number",
            "description": "the value in mg/L; a limit, not a measurement, when comparator is set",
        },
        "comparator": {
            "enum": [*(comparator.value for comparator in Comparator), None],
            "description": (
                "null: crp_mg_l was measured. Set: the laboratory reported a limit (a censored "
                "value, e.g. <5 mg/L below its reporting limit): the true CRP is below (<), at "
                "most (<=), above (>) or at least (>=) crp_mg_l, never crp_mg_l itself"
            ),
        },
        "collected_at": {"type": "string", "format": "date-time"},
        "status": {"enum": [status.value for status in ResultStatus]},
    },
}
_SERIES: dict[str, Any] = {
    "type": "object",
    "required": ["subject_id", "series", "assessments"],
    "properties": {
        "subject_id": {"type": "string"},
        "series": {
            "type": "array",
            "description": (
                "the values that stand, by collection time; values of one collection time "
                "(several of one sample: a re-run, two sub-ids) in the order received, the "
                "last received last"
            ),
            "items": _POINT,
        },
        "assessments": {"type": "array", "description": "always empty: not built yet"},
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/v1/subjects/{subject_id}/crp": {
        "get": {
            "summary": "CRP series (mg/L, corrections applied) and assessments of one subject",
            "security": [{"bearer": []}],
            "parameters": [
                {
                    "name": "subject_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "maxLength": SUBJECT_ID_MAX_LENGTH},
                }
            ],
            "responses": {
                "200": {
                    "description": "series",
                    "content": {"application/json": {"schema": _SERIES}},
                },
                "400": {"description": NOT_A_SUBJECT_ID},
                "403": {
                    "description": (
                        "a token of another role, or a site token that names no site "
                        "(made before tokens named their site): create a new one with --site"
                    )
                },
                "404": {
                    "description": (
                        "unknown; for a site token also a subject of another site, or one "
                        "whose enrolment crp-monitor has not read yet (the same answer)"
                    )
                },
                "503": {"description": "PostgreSQL unreachable; send again after Retry-After"},
            },
        }
    }
}
