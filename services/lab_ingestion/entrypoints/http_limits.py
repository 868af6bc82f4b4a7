"""How many HTTP pushes lab-ingestion reads and processes at once, as MLLP caps its
connections: each holds its body (up to 2 MiB) and what is made of it, so an unbounded
number (many stalled bodies from one token) would exhaust memory. Beyond the cap a push is
answered 503 with Retry-After at once, in its route's error format, its body not read and
its connection closed: nothing was stored, the sender sends it again. A body that does come
must come within its deadline (``request_body.read_body``), so a slot is never held for
ever. Counted as ``lab_messages_resend_asked_total{reason="too-many-requests"}``.
"""

from __future__ import annotations

import logging

from aiohttp import web

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints import fhir_responses as fhir
from shared.contracts.events.lab import Channel
from shared.web.app import RENDER_KEY, ErrorRenderer, Handler, problem

log = logging.getLogger(__name__)

# as many as MLLP's connections: a laboratory pushes a few at a time
MAX_REQUESTS = 32
BUSY = "too-many-requests"  # the metric's reason
BUSY_TEXT = (
    "too many lab pushes are being received at once; nothing was read or stored, send it "
    "again later"
)


class RequestLimit:
    """At most ``most`` requests through the handlers it guards at once (one event loop:
    a count is enough)."""

    def __init__(self, most: int, metrics: LabIngestionMetrics) -> None:
        self._most = most
        self._metrics = metrics
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def guard(self, channel: Channel, handler: Handler) -> Handler:
        """``handler`` within the limit (inside ``requires``: only a caller with a token
        takes a slot, and the 503 is rendered as the route renders its errors)."""

        async def limited(request: web.Request) -> web.StreamResponse:
            if self._in_flight >= self._most:
                return self._busy(request, channel)
            self._in_flight += 1
            try:
                return await handler(request)
            finally:
                self._in_flight -= 1

        limited.__name__ = handler.__name__
        limited.__doc__ = handler.__doc__
        return limited

    def _busy(self, request: web.Request, channel: Channel) -> web.Response:
        self._metrics.resend_asked.labels(channel.value, BUSY).inc()
        log.warning("lab push answered 503: too many being received at once",
                    extra={"limit": self._most, "channel": channel.value})  # fmt: skip
        render: ErrorRenderer = request.get(RENDER_KEY, problem)
        response = render(503, "Service Unavailable", BUSY_TEXT)
        response.headers.update(fhir.RETRY_AFTER)
        response.force_close()  # the body is not read: it cannot be told from a next request
        return response
