"""lab-ingestion's HTTP contract against the running service (real PostgreSQL and broker):
every route and status it answers is in /openapi.json with its media type, headers and body
schema, and everything the document promises is answered."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import pytest

from shared.auth import Role, create_token
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, crp_observation, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

ER7 = "x-application/hl7-v2+er7"
LIMIT = 2 * 1024 * 1024  # the service's body limit
LAB_PATHS = ("/v1/hl7", "/fhir/Observation", "/fhir", "/fhir/{path}", "/v1/lab-results")
BASE_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


# a push's body not all come within this is answered 408 (short, so that a stall is probed
# quickly; long enough for the largest body probed to come whole on a busy machine)
BODY_SECONDS = 3.0


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    limited = settings.model_copy(update={"lab_ingestion_http_body_seconds": BODY_SECONDS})
    async with running_lab(limited, database) as lab:
        yield lab


@dataclass(frozen=True)
class Probe:
    """A request, and the operation of the document that describes its answer (a method a
    POST route does not take is answered 405, which its POST operation describes)."""

    path: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"
    operation: str = "post"
    url: str = ""  # the path requested, when the document's is a template
    token: str | None = "lab"  # lab, site, bound (to another sender) or none


@dataclass(frozen=True)
class Answer:
    probe: Probe
    status: int
    media: str
    headers: frozenset[str]  # names, lower case
    body: bytes

    @property
    def documented_as(self) -> tuple[str, str, int, str]:
        return self.probe.path, self.probe.operation, self.status, self.media


def _bundle(kind: str, *resources: dict[str, Any]) -> bytes:
    entries = [{"resource": resource} for resource in resources]
    return json.dumps({"resourceType": "Bundle", "type": kind, "entry": entries}).encode()


def _lab_results(message_id: str, unit: str = "mg/L") -> bytes:
    return json.dumps({
        "message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [{"result_id": "R1", "loinc": "1988-5", "value": "12.5", "unit": unit,
                     "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}],
    }).encode()  # fmt: skip


def _hl7(control_id: str, unit: str = "mg/L") -> bytes:
    return oru(control_id, [obx("1988-5", "30", unit)]).encode()


def _answered_alike(path: str, body: bytes) -> list[Probe]:
    """What every secured POST route answers the same way: 401, 403, 400 for a body that
    cannot be read, 413 (plain or once decoded), 415 for a body of another media type and
    405."""
    gzipped = {"Content-Encoding": "gzip"}
    return [
        Probe(path, body, token=None),
        Probe(path, body, token="site"),
        Probe(path, body, {"Content-Encoding": "compress"}),
        Probe(path, b"\x1f\x8b not gzip at all", gzipped),
        Probe(path, b"\x1f\x8b not gzip at all", {"Content-Encoding": "x-gzip"}),
        Probe(path, b" " * (LIMIT + 1)),
        Probe(path, body, {"Content-Type": "application/xml"}),  # 415
        Probe(path, gzip.compress(b" " * (LIMIT + 1)), gzipped),
        Probe(path, method="GET"),
        Probe(path, method="PUT"),
    ]


def _fhir_alike(path: str, body: bytes) -> list[Probe]:
    """What the FHIR routes answer besides: 406 to a request taking XML alone."""
    return [
        *_answered_alike(path, body),
        Probe(path, body, {"Accept": "application/fhir+xml"}),
        Probe(path, body, {"Content-Type": "application/fhir+json"}, url=f"{path}?_format=xml"),
    ]


def _probes() -> list[Probe]:
    """Requests for every answer but 503, in an order that makes each (a resend after the
    first)."""
    not_json = b'{"resourceType": "Observation"'
    return [
        Probe("/v1/hl7", _hl7("CT-H1")),  # 200 AA
        Probe("/v1/hl7", b"not HL7 at all"),  # 400 AR
        Probe("/v1/hl7", _hl7("CT-H2", unit="furlongs")),  # 422 AE
        *_answered_alike("/v1/hl7", _hl7("CT-H3")),
        Probe("/fhir/Observation", json.dumps(crp_observation("CT-F1")).encode()),  # 201
        Probe("/fhir/Observation", json.dumps(crp_observation("CT-F1")).encode()),  # 200
        Probe("/fhir/Observation", json.dumps(crp_observation("CT-F2", "U/L")).encode()),  # 422
        Probe("/fhir/Observation", b'{"resourceType": "Observation"}'),  # 400
        Probe("/fhir/Observation", not_json),  # 400
        *_fhir_alike("/fhir/Observation", json.dumps(crp_observation("CT-F3")).encode()),
        Probe("/fhir", _bundle("batch", crp_observation("CT-B1"))),  # 200
        Probe("/fhir", _bundle("transaction", crp_observation("CT-B2"))),  # 200
        Probe("/fhir", _bundle("transaction", crp_observation("CT-B3", "U/L"))),  # 422
        Probe("/fhir", json.dumps(crp_observation("CT-B4")).encode()),  # 400: not a Bundle
        *_fhir_alike("/fhir", _bundle("batch", crp_observation("CT-B5"))),
        *(
            Probe("/fhir/{path}", method=m.upper(), operation=m, url="/fhir/Patient/1")
            for m in ("get", "put", "post", "delete", "patch")
        ),
        Probe("/v1/lab-results", _lab_results("CT-J1")),  # 202
        Probe("/v1/lab-results", _lab_results("CT-J1")),  # 200
        Probe("/v1/lab-results", b"{oops"),  # 400
        Probe("/v1/lab-results", _lab_results("CT-J2", unit="furlongs")),  # 422
        Probe("/v1/lab-results", _lab_results("CT-J3"), token="bound"),  # 403: another sender
        *_answered_alike("/v1/lab-results", _lab_results("CT-J4")),
    ]


def _probes_while_nothing_can_be_stored() -> list[Probe]:
    """Each answered 503: a message not stored, or an unreadable body not kept."""
    return [
        Probe("/v1/hl7", _hl7("CT-U1")),
        Probe("/v1/hl7", b"\x1f\x8b not gzip at all", {"Content-Encoding": "gzip"}),
        Probe("/fhir/Observation", json.dumps(crp_observation("CT-U2")).encode()),
        Probe("/fhir", _bundle("transaction", crp_observation("CT-U3"))),
        Probe("/v1/lab-results", _lab_results("CT-U4")),
    ]


async def test_every_answer_of_the_lab_routes_is_documented_and_every_documented_one_given(
    lab: Lab,
) -> None:
    async with lab.pool.acquire() as conn:
        bound = await create_token(conn, "bound-lab", Role.LAB, senders=["OTHER^LAB"])
    tokens = {"lab": lab.lab_token, "site": lab.site_token, "bound": bound}
    async with _session() as http:
        document = await _document(http, lab)
        answers = [await _send(http, lab.http, probe, tokens) for probe in _probes()]
        async with _writes_refused(lab.pool):
            answers += await asyncio.gather(
                *(_send(http, lab.http, p, tokens) for p in _probes_while_nothing_can_be_stored())
            )
        answers += await asyncio.gather(  # their bodies stall: 408 at BODY_SECONDS
            _stalled(lab, "/v1/hl7", ER7),
            _stalled(lab, "/v1/lab-results", "application/json"),
            _stalled(lab, "/fhir/Observation", "application/fhir+json"),
            _stalled(lab, "/fhir", "application/fhir+json"),
        )
    _assert_documented(document, answers)
    _assert_all_given(document, LAB_PATHS, answers)


async def _stalled(lab: Lab, path: str, media_type: str) -> Answer:
    """A push whose body stops coming after its first byte: its answer (review 123: the 408
    was not in the document)."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", lab.settings.lab_ingestion_http_port
    )
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: lab\r\nAuthorization: Bearer {lab.lab_token}\r\n"
        f"Content-Type: {media_type}\r\nContent-Length: 1000\r\n\r\n{{".encode()
    )
    # read by its length: the server lingers on the connection before it closes it
    head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BODY_SECONDS + 10)
    status_line, *lines = head_bytes.decode("latin-1").strip().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    body = await reader.readexactly(int(headers["Content-Length"]))
    writer.close()
    media = headers.get("Content-Type", "").split(";")[0]
    answer = Answer(Probe(path), int(status_line.split()[1]), media,
                    frozenset(h.lower() for h in headers), body)  # fmt: skip
    assert answer.status == 408, (status_line, body[:300])
    return answer


async def test_the_routes_every_service_has_are_documented_as_answered(lab: Lab) -> None:
    probes = [Probe(path, method="GET", operation="get", token=None) for path in BASE_PATHS]
    async with _session() as http:
        document = await _document(http, lab)
        answers = [await _send(http, lab.http, probe, {}) for probe in probes]
        lab.runtime.started.clear()  # not ready: 503
        try:
            answers.append(await _send(http, lab.http, probes[1], {}))
        finally:
            lab.runtime.started.set()
    assert answers[-1].status == 503
    _assert_documented(document, answers)
    _assert_all_given(document, BASE_PATHS, answers)


@pytest.mark.parametrize("path", ["/v1/hl7", "/fhir/Observation", "/fhir", "/v1/lab-results"])
async def test_a_token_that_is_not_utf8_is_401_as_documented(lab: Lab, path: str) -> None:
    """aiohttp keeps a header's bytes that are not UTF-8 as surrogate escapes, and hashing
    the token failed on them: 500 text/plain and a traceback for every such request."""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode()
        + b"Authorization: Bearer cx_\xff\xfe\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", lab.settings.lab_ingestion_http_port
    )
    writer.write(request)
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    media = headers.get("Content-Type", "").split(";")[0]
    answer = Answer(Probe(path), int(status_line.split()[1]), media,
                    frozenset(h.lower() for h in headers), body)  # fmt: skip
    assert answer.status == 401, raw[:300]
    async with _session() as http:
        _assert_documented(await _document(http, lab), [answer])


async def test_an_x_gzip_hl7_body_is_decoded_and_stored(lab: Lab) -> None:
    """x-gzip is gzip (HTTP/1.1); passed through undecoded, the compressed bytes reached the
    HL7 parser and were kept as a rejection's payload, with all the patient's data in them."""
    headers = {"Authorization": f"Bearer {lab.lab_token}", "Content-Encoding": "x-gzip"}
    async with (
        _session() as http,
        http.post(
            f"{lab.http}/v1/hl7", data=gzip.compress(_hl7("XG-1")), headers=headers
        ) as answer,
    ):
        assert answer.status == 200, await answer.text()
        assert msa(await answer.text())[1:3] == ["AA", "XG-1"]
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == 1
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 0


# --- helpers -----------------------------------------------------------------------------


def _session() -> aiohttp.ClientSession:
    # a connection per request: one answer's connection handling never affects the next
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))


async def _document(http: aiohttp.ClientSession, lab: Lab) -> dict[str, Any]:
    async with http.get(f"{lab.http}/openapi.json") as got:
        assert got.status == 200
        document: dict[str, Any] = json.loads(await got.read())
    return document


async def _send(
    http: aiohttp.ClientSession, base: str, probe: Probe, tokens: Mapping[str, str]
) -> Answer:
    headers = dict(probe.headers)
    if probe.token is not None:
        headers["Authorization"] = f"Bearer {tokens[probe.token]}"
    data = probe.body if probe.method not in ("GET", "HEAD") else None
    url = f"{base}{probe.url or probe.path}"
    async with http.request(probe.method, url, data=data, headers=headers) as got:
        body = await got.read()
        names = frozenset(name.lower() for name in got.headers)
        return Answer(probe, got.status, got.content_type, names, body)


@contextlib.asynccontextmanager
async def _writes_refused(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """Every write of a message or rejection fails as on a read-only database (a passing
    failure): the service retries, then answers 503, nothing stored."""
    tables = ("messages", "rejections")
    await pool.execute(
        """CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION 'read-only' USING ERRCODE = 'read_only_sql_transaction';
           END $$"""
    )
    for table in tables:
        await pool.execute(
            f"CREATE TRIGGER refuse_writes BEFORE INSERT ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes()"
        )
    try:
        yield
    finally:
        for table in tables:
            await pool.execute(f"DROP TRIGGER refuse_writes ON {table}")
        await pool.execute("DROP FUNCTION refuse_writes()")


def _assert_documented(document: dict[str, Any], answers: Sequence[Answer]) -> None:
    wrong = [(a.probe.method, a.probe.url or a.probe.path, a.status, a.media, problem)
             for a in answers for problem in _mismatches(document, a)]  # fmt: skip
    assert not wrong, "\n".join(map(str, wrong))


def _assert_all_given(
    document: dict[str, Any], paths: Sequence[str], answers: Sequence[Answer]
) -> None:
    """Every status and media type the document gives for these paths was answered."""
    documented = {
        (path, method, int(status), media)
        for path in paths
        for method, operation in document["paths"][path].items()
        if method in METHODS
        for status, response in operation["responses"].items()
        for media in response.get("content") or {"(no body)": None}
    }
    never = documented - {answer.documented_as for answer in answers}
    assert not never, f"documented, never answered: {sorted(never)}"


def _mismatches(document: dict[str, Any], answer: Answer) -> list[str]:
    path, method, status, media = answer.documented_as
    response = document["paths"].get(path, {}).get(method, {}).get("responses", {})
    content = response.get(str(status), {}).get("content", {})
    if media not in content:
        return [f"not documented (documented: {sorted(content)})"]
    problems = [
        f"lacks the documented header {name}"
        for name in response[str(status)].get("headers", {})
        if name.lower() not in answer.headers
    ]
    if media == ER7:
        body: Any = answer.body.decode("utf-8")
        problems += [] if body.startswith("MSH|") else ["the body is not an ER7 message"]
    elif media.endswith("json"):
        body = json.loads(answer.body)
    else:
        body = answer.body.decode("utf-8")
    return problems + _conforms(content[media].get("schema", {}), body, "body")


_TYPES: dict[str, type] = {
    "object": dict, "array": list, "string": str, "boolean": bool, "integer": int,
}  # fmt: skip


def _is_a(kind: str, value: Any) -> bool:
    return isinstance(value, _TYPES[kind]) and not (kind == "integer" and isinstance(value, bool))


def _conforms(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    """The JSON Schema keywords the document's answer schemas use."""
    kind = schema.get("type")
    if kind and not _is_a(kind, value):
        return [f"{where} is not of type {kind}: {value!r:.80}"]
    problems = []
    if "const" in schema and value != schema["const"]:
        problems.append(f"{where} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where} is not one of {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{where} is below {schema['minimum']}")
    if isinstance(value, dict):
        required = schema.get("required", ())
        problems += [f"{where} lacks {key}" for key in required if key not in value]
        for key, inner in schema.get("properties", {}).items():
            if key in value:
                problems += _conforms(inner, value[key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += _conforms(schema["items"], item, f"{where}[{index}]")
    return problems
