"""HTTP routes of crp-monitor: translate requests, call the service layer, render."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from services.crp_monitor.service_layer.queries import crp_series
from shared.auth import Role
from shared.web.app import problem, requires

READERS = (Role.SITE, Role.SAFETY, Role.UNBLINDED, Role.OPS)


def routes(pool: asyncpg.Pool) -> list[web.RouteDef]:
    @requires(*READERS)
    async def get_crp(request: web.Request) -> web.StreamResponse:
        subject_id = request.match_info["subject_id"]
        body = await crp_series(pool, subject_id)
        if body is None:
            return problem(404, "Not Found", f"no subject {subject_id!r}")
        return web.json_response(body)

    return [web.get("/v1/subjects/{subject_id}/crp", get_crp)]


OPENAPI_PATHS: dict[str, Any] = {
    "/v1/subjects/{subject_id}/crp": {
        "get": {
            "summary": "CRP series (mg/L, corrections applied) and assessments of one subject",
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "subject_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {"200": {"description": "series"}, "404": {"description": "unknown"}},
        }
    }
}
