"""HTTP routes of crp-monitor: translate requests, call the service layer, render.

A route that fails because PostgreSQL is down is answered 503 with Retry-After by the shared
app (``shared.web.app.answer_passing_failures``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.crp_monitor.service_layer.queries import CrpSeries
from shared.auth import Role
from shared.web.app import problem, requires

READERS = (Role.SITE, Role.SAFETY, Role.UNBLINDED, Role.OPS)
# The longest subject id an event can carry (the envelope's subject_id, shared/contracts)
SUBJECT_ID_MAX_LENGTH = 64
NOT_A_SUBJECT_ID = f"not a subject id: longer than {SUBJECT_ID_MAX_LENGTH} characters, or a NUL"


def routes(crp_series: CrpSeries) -> list[web.RouteDef]:
    """``crp_series``: the read side's query (``service_layer.queries.crp_series``, bound to
    its read-only unit of work by the composition root)."""

    @requires(*READERS)
    async def get_crp(request: web.Request) -> web.StreamResponse:
        subject_id = request.match_info["subject_id"]
        if not can_be_subject_id(subject_id):
            return problem(400, "Bad Request", NOT_A_SUBJECT_ID)
        body = await crp_series(subject_id)
        if body is None:
            return problem(404, "Not Found", f"no subject {subject_id!r}")
        return web.json_response(body)

    return [web.get("/v1/subjects/{subject_id}/crp", get_crp)]


def can_be_subject_id(text: str) -> bool:
    """False for what no subject can be called: longer than the contract allows, or with a
    NUL (PostgreSQL's text cannot hold one, so no service ever stored such a subject). A
    client that sends one has a bug (400), unlike one asking for a subject not enrolled yet
    (404)."""
    return len(text) <= SUBJECT_ID_MAX_LENGTH and "\x00" not in text


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
                "200": {"description": "series"},
                "400": {"description": NOT_A_SUBJECT_ID},
                "404": {"description": "unknown"},
                "503": {"description": "PostgreSQL unreachable; send again after Retry-After"},
            },
        }
    }
}
