"""Which format a FHIR client asks its answer in: this service answers JSON only
(``CapabilityStatement.format``), so a request that takes XML alone is answered 406 Not
Acceptable, in JSON (an OperationOutcome), before its body is read or anything stored (review
131). FHIR R4 http.html#mime-type: ``_format`` (``xml``, ``json`` or a media type) overrides
``Accept``; an ``Accept`` that allows any JSON type, a wildcard or another type (a
browser's ``text/html``: answered JSON as before) is served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.lab_ingestion.entrypoints import fhir_responses as fhir
from services.lab_ingestion.entrypoints.http_answers import closing
from services.lab_ingestion.entrypoints.media_types import FHIR_XML

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
XML_FORMATS = FHIR_XML | {"xml"}
NOT_ACCEPTABLE = (
    "only JSON is supported (application/fhir+json): ask for it in Accept or _format, or "
    "leave them out"
)


def xml_only(request: web.Request) -> bool:
    """Whether the request asks for XML and nothing this service answers in."""
    formats = request.query.getall("_format", [])
    if formats:
        return all(_media_type(f) in XML_FORMATS for f in formats)
    ranges = [
        r for header in request.headers.getall("Accept", []) for r in header.split(",") if r.strip()
    ]
    wanted = [_media_type(r) for r in ranges if _quality(r) > 0]
    return bool(wanted) and all(_is_xml(t) for t in wanted)


def not_acceptable(request: web.Request) -> web.Response:
    """406 in JSON; the connection closed when a body may be left unread."""
    answer = fhir.fhir_error(406, "Not Acceptable", NOT_ACCEPTABLE)
    return closing(answer) if request.can_read_body else answer


def _media_type(text: str) -> str:
    return text.split(";", 1)[0].strip().lower()


def _is_xml(media_type: str) -> bool:
    return media_type in XML_FORMATS or media_type.endswith("+xml")


def _quality(media_range: str) -> float:
    """The range's ``q`` (1 when not given; 0, refusing it, when unreadable)."""
    for parameter in media_range.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def answered_in_json(handler: Handler) -> Handler:
    """``handler``, answering 406 first to a request that takes XML alone."""

    async def negotiated(request: web.Request) -> web.StreamResponse:
        if xml_only(request):
            return not_acceptable(request)
        return await handler(request)

    negotiated.__name__ = handler.__name__
    return negotiated
