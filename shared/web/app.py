"""The HTTP side every service shares: health, readiness, metrics, OpenAPI and auth.

Services add their own routes; a route that needs a role is wrapped with ``requires``. A
route that fails on a passing error (the database is down: ``TRANSIENT_DB_ERRORS``) is
answered 503 with Retry-After, in the route's error format, never 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.auth import Principal, Role, TokenStore
from shared.db.pool import TRANSIENT_DB_ERRORS
from shared.metrics import ReadinessMetrics

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5  # when a request could not be served for a passing failure

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Check = Callable[[], Awaitable[bool]]
# (status, title, detail) -> the error response; routes with their own error format (FHIR's
# OperationOutcome) pass theirs to ``requires``
ErrorRenderer = Callable[[int, str, str], web.Response]

# the request handler's settings (``AppRunner``, ``TestServer``): aiohttp does not decode
# Content-Encoding itself (it took a truncated gzip body for a whole one); a route that
# reads a body decodes it strictly (lab-ingestion's ``request_body.read_body``). The runtime
# adds ``keepalive_timeout`` (``http_header_seconds``): aiohttp's keep-alive timer, armed when a
# connection opens and after each answer and not reset by what arrives, is the only limit on
# a request's headers (review 113: trickled headers held a connection for aiohttp's default
# hour)
HANDLER_ARGS: dict[str, Any] = {"auto_decompress": False}

PRINCIPAL_KEY = web.RequestKey("principal", Principal)
# how the route answers errors, set by ``requires`` for the 503 of ``answer_passing_failures``
RENDER_KEY = web.RequestKey[ErrorRenderer]("render")
TOKENS_KEY = web.AppKey("tokens", TokenStore)


def _always() -> bool:
    return True


def _never() -> bool:
    return False


# ``cachexia_ready``'s lifecycle series, beside one per dependency, so that the gauge agrees
# with ``/readyz``: ``started`` is 1 once start-up has finished, ``not_stopping`` 1 until
# shutdown begins
STARTED = "started"
NOT_STOPPING = "not_stopping"


@dataclass
class ReadinessChecks:
    """Named dependency checks; results are cached briefly so probes stay cheap.

    A service is ready only once it has ``started`` (start-up finished: migrations applied,
    topics there, consumers and listeners started) and until it begins ``stopping``, and
    only while every dependency check passes. ``started`` and ``stopping`` are read on every
    probe, never cached, so that readiness goes at the moment shutdown begins. While
    stopping, the dependency checks are not run again (the pool is being closed): the report
    keeps their last results. Each check is given ``check_seconds`` (then it failed), and
    callers arriving while the checks run wait for those results instead of running their
    own. Every report (``/readyz``, and each scrape of ``/metrics``) sets ``cachexia_ready``
    for each dependency, ``started`` and ``not_stopping``.
    """

    checks: dict[str, Check]
    metrics: ReadinessMetrics
    cache_seconds: float = 1.0
    check_seconds: float = 3.0
    started: Callable[[], bool] = _always
    stopping: Callable[[], bool] = _never
    _last: tuple[float, dict[str, bool]] = field(default=(0.0, {}))
    _running: asyncio.Future[dict[str, bool]] | None = None

    async def run(self) -> dict[str, bool]:
        if time.monotonic() - self._last[0] < self.cache_seconds and self._last[1]:
            return self._last[1]
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._check_all())
        return await asyncio.shield(self._running)  # a caller that goes leaves it to the rest

    async def _check_all(self) -> dict[str, bool]:
        began = time.monotonic()
        names = list(self.checks)
        results = await asyncio.gather(
            *(self._bounded(self.checks[n]) for n in names), return_exceptions=True
        )
        status = {n: r is True for n, r in zip(names, results, strict=True)}
        for name, ok in status.items():
            self.metrics.set_ready(name, ok)
        self._last = (began, status)
        return status

    async def _bounded(self, check: Check) -> bool:
        async with asyncio.timeout(self.check_seconds):
            return await check()

    async def report(self) -> dict[str, Any]:
        """``ready``, why not (``started``, ``stopping``) and each dependency's check."""
        started, stopping = self.started(), self.stopping()
        checks = dict(self._last[1]) if stopping else await self.run()
        if self.stopping():  # it began while the checks ran
            stopping = True
        self.metrics.set_ready(STARTED, started)
        self.metrics.set_ready(NOT_STOPPING, not stopping)
        ready = started and not stopping and all(checks.values())
        return {"ready": ready, "started": started, "stopping": stopping, "checks": checks}


def problem(status: int, title: str, detail: str) -> web.Response:
    return web.json_response(
        {"title": title, "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
    )


def requires(*roles: Role, render: ErrorRenderer = problem) -> Callable[[Handler], Handler]:
    """Only callers whose bearer token has one of ``roles`` reach the handler; 401 and 403
    are answered by ``render`` (problem+json unless the route says otherwise)."""
    allowed = frozenset(roles)

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                return _unauthorised("a bearer token is required", render)
            try:
                principal = await request.app[TOKENS_KEY].authenticate(token.strip())
            except TRANSIENT_DB_ERRORS as error:  # the token cannot be checked: try again
                log.warning("token check failed", extra={"error": type(error).__name__})
                return _unavailable(render, _TOKENS_UNCHECKED)
            if principal is None:
                return _unauthorised("the token is unknown or revoked", render)
            if principal.role not in allowed:
                names = ", ".join(sorted(r.value for r in allowed))
                return render(403, "Forbidden", f"this resource needs the role: {names}")
            request[PRINCIPAL_KEY] = principal
            request[RENDER_KEY] = render
            return await handler(request)

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    return wrap


_TOKENS_UNCHECKED = "the service cannot check tokens now; nothing was stored, send again later"
_DATABASE_UNREACHABLE = "the service cannot reach its database now; send the request again later"


@web.middleware
async def answer_passing_failures(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request that failed on a passing error (the database is down or restarting, the
    connection broke: ``TRANSIENT_DB_ERRORS``) is answered 503 with Retry-After in the
    route's error format, never 500: the client may send it again. Logged by type only (an
    error's text can quote data)."""
    try:
        return await handler(request)
    except TRANSIENT_DB_ERRORS as error:
        log.warning("a request failed on a passing error; answered 503", extra={
            "error": type(error).__name__, "route": _route_of(request),
        })  # fmt: skip
        return _unavailable(request.get(RENDER_KEY, problem), _DATABASE_UNREACHABLE)


def _route_of(request: web.Request) -> str:
    """The route's template (``/v1/subjects/{subject_id}/crp``), not the path with its ids."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unknown"


def _unavailable(render: ErrorRenderer, detail: str) -> web.Response:
    """A passing failure (the database is down): answer 503 and say when to send again."""
    response = render(503, "Service Unavailable", detail)
    response.headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return response


def _unauthorised(detail: str, render: ErrorRenderer) -> web.Response:
    response = render(401, "Unauthorized", detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="cachexia"'
    return response


def build_http_app(
    *,
    service: str,
    registry: CollectorRegistry,
    readiness: ReadinessChecks,
    tokens: TokenStore,
    routes: Iterable[web.RouteDef] = (),
    openapi_paths: dict[str, Any] | None = None,
) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024, middlewares=[answer_passing_failures])
    app[TOKENS_KEY] = tokens

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": service})

    async def readyz(_: web.Request) -> web.Response:
        report = await readiness.report()
        body = {"ready": report["ready"], "service": service, **report}
        return web.json_response(body, status=200 if report["ready"] else 503)

    async def metrics(_: web.Request) -> web.Response:
        await readiness.report()  # cachexia_ready as of now, not as of the last /readyz
        response = web.Response(body=generate_latest(registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    document = openapi_document(service, openapi_paths or {})

    async def openapi(_: web.Request) -> web.Response:
        return web.Response(text=json.dumps(document), content_type="application/json")

    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            web.get("/metrics", metrics),
            web.get("/openapi.json", openapi),
            *routes,
        ]
    )
    return app


def openapi_document(service: str, paths: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": f"LENA-CCS {service}", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {**_BASE_PATHS, **paths},
    }


def _get(summary: str, responses: dict[str, tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    """A GET without a token; ``responses``: status -> (description, media type, schema)."""
    return {"get": {"summary": summary, "responses": {
        status: {"description": description, "content": {media: {"schema": schema}}}
        for status, (description, media, schema) in responses.items()
    }}}  # fmt: skip


_HEALTH = {
    "type": "object",
    "required": ["status", "service"],
    "properties": {"status": {"const": "ok"}, "service": {"type": "string"}},
}
_READINESS = {
    "type": "object",
    "required": ["ready", "service", "started", "stopping", "checks"],
    "properties": {
        "ready": {"type": "boolean"},
        "service": {"type": "string"},
        "started": {"type": "boolean", "description": "start-up finished"},
        "stopping": {"type": "boolean", "description": "shutdown has begun"},
        "checks": {
            "type": "object",
            "description": "each dependency (postgres, kafka): reachable",
            "additionalProperties": {"type": "boolean"},
        },
    },
}
_BASE_PATHS: dict[str, Any] = {
    "/healthz": _get("Liveness", {"200": ("alive", "application/json", _HEALTH)}),
    "/readyz": _get(
        "Readiness: started, not stopping, PostgreSQL and Kafka reachable",
        {
            "200": ("ready", "application/json", _READINESS),
            "503": ("not ready: the body says why", "application/json", _READINESS),
        },
    ),
    "/metrics": _get(
        "Prometheus metrics",
        {"200": ("the text exposition format", "text/plain", {"type": "string"})},
    ),
    "/openapi.json": _get(
        "This document", {"200": ("OpenAPI 3.1", "application/json", {"type": "object"})}
    ),
}
