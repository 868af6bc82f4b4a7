"""lab-ingestion's metrics: every answer of every lab route timed, every counter in messages.

The routes are driven in-process (route_fakes: the real aiohttp app, no database); the MLLP
listener on a real socket with a stand-in acknowledger.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bench.infra import free_port
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.mllp import MllpListener
from services.lab_ingestion.entrypoints.outcomes import count_outcome
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestOutcome,
    IngestTransaction,
)
from tests.unit.lab_ingestion.route_fakes import (
    CRP,
    JSON_BODY,
    LAB,
    SITE_TOKEN,
    FakeSubmit,
    UnreachableTokens,
    bundle,
    lab_client,
    observation,
)
from tests.unit.lab_ingestion.test_mllp_listener import CountingAcknowledger, connect

PATHS = {"/v1/hl7": "hl7-http", "/fhir/Observation": "fhir", "/fhir": "fhir",
         "/v1/lab-results": "json"}  # fmt: skip
SITE = {"Authorization": f"Bearer {SITE_TOKEN}"}
TOO_LARGE = b" " * (3 * 1024 * 1024)  # beyond the app's 2 MiB
UNREADABLE = {**LAB, "Content-Encoding": "x-foo"}  # an encoding the service cannot read


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The one sample of ``name`` with exactly ``labels`` in the exposition ``metrics``."""
    (value,) = [
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == name and sample.labels == labels
    ]
    return value


def _latency_count(metrics: str, channel: str) -> float:
    return _sample(metrics, "lab_ack_latency_seconds_count", channel=channel)


@pytest.mark.parametrize("path", list(PATHS))
async def test_every_answer_of_every_lab_route_is_timed_under_its_channel(path: str) -> None:
    """401, 403, 413 and an unreadable body (400) are answers too, as is the route's own."""
    body: dict[str, Any] = {
        "/v1/hl7": {}, "/fhir/Observation": CRP, "/fhir": bundle("batch", CRP),
        "/v1/lab-results": JSON_BODY,
    }[path]  # fmt: skip
    async with lab_client(FakeSubmit()) as client:
        answers = [
            await client.post(path, json=body),  # no token: 401
            await client.post(path, json=body, headers=SITE),  # another role: 403
            await client.post(path, data=TOO_LARGE, headers=LAB),  # 413
            await client.post(path, data=b"{}", headers=UNREADABLE),  # 400
            await client.post(path, json=body, headers=LAB),  # the route's own answer
        ]
        metrics = await (await client.get("/metrics")).text()
    assert [a.status for a in answers[:4]] == [401, 403, 413, 400]
    assert _latency_count(metrics, PATHS[path]) == 5


@pytest.mark.parametrize("path", list(PATHS))
async def test_a_503_because_tokens_cannot_be_checked_is_timed(path: str) -> None:
    async with lab_client(FakeSubmit(), tokens=UnreachableTokens()) as client:
        response = await client.post(path, json={}, headers=LAB)
        assert response.status == 503
        metrics = await (await client.get("/metrics")).text()
    assert _latency_count(metrics, PATHS[path]) == 1


async def test_the_fhir_and_json_channels_are_timed_apart() -> None:
    async with lab_client(FakeSubmit()) as client:
        assert (await client.post("/fhir/Observation", json=CRP, headers=LAB)).status == 201
        assert (await client.post("/v1/lab-results", json=JSON_BODY, headers=LAB)).status == 202
        metrics = await (await client.get("/metrics")).text()
    assert _latency_count(metrics, "fhir") == _latency_count(metrics, "json") == 1


def _failing_transactions(command: Command) -> IngestOutcome:
    assert isinstance(command, IngestTransaction)
    return IngestOutcome(
        accepted=False, code=RejectionCode.UNCONVERTIBLE_UNIT, reason="U/L", failed_part=1
    )


async def test_a_rejected_transaction_counts_each_observation_like_an_accepted_one() -> None:
    """Received = accepted + rejected, in messages (FHIR Observations), transactions too."""
    transaction = bundle("transaction", CRP, observation(id="crp-2"), observation(id="crp-3"))
    async with lab_client(FakeSubmit()) as client:
        assert (await client.post("/fhir", json=transaction, headers=LAB)).status == 200
        accepted = await (await client.get("/metrics")).text()
    async with lab_client(FakeSubmit(answer=_failing_transactions)) as client:
        assert (await client.post("/fhir", json=transaction, headers=LAB)).status == 422
        rejected = await (await client.get("/metrics")).text()
    labels = {"channel": "fhir", "source": "central-lab^FHIR"}
    assert _sample(accepted, "lab_messages_received_total", **labels) == 3
    assert _sample(accepted, "lab_messages_accepted_total", **labels) == 3
    assert _sample(rejected, "lab_messages_received_total", **labels) == 3
    reason = "unconvertible-unit"
    assert _sample(rejected, "lab_messages_rejected_total", **labels, reason=reason) == 3


def test_an_accepted_transaction_counts_every_counter_per_message() -> None:
    registry = CollectorRegistry()
    parts = tuple(IngestOutcome(accepted=True, enrolled=False) for _ in range(3))
    count_outcome(
        LabIngestionMetrics(registry), "fhir", "lab^FHIR", IngestOutcome(True, parts=parts)
    )
    labels = {"channel": "fhir", "source": "lab^FHIR"}
    assert registry.get_sample_value("lab_messages_received_total", labels) == 3
    assert registry.get_sample_value("lab_messages_accepted_total", labels) == 3
    assert registry.get_sample_value("lab_unmatched_patient_total", labels) == 3


async def test_every_mllp_ack_is_timed_a_frame_too_large_and_one_without_vt_too() -> None:
    port, stopping = free_port(), asyncio.Event()
    registry = CollectorRegistry()
    listener = MllpListener(
        CountingAcknowledger(),  # type: ignore[arg-type]  # a hand-written stand-in
        LabIngestionMetrics(registry), "127.0.0.1", port, 1024,
    )  # fmt: skip
    serving = asyncio.create_task(listener.serve(stopping))
    try:
        reader, writer = await connect(port)
        writer.write(b"MSH|^~\\&|LIS|HOSP\r\x1c\r")  # no start byte: AR, connection kept
        # beyond the limit: AR at its end, connection kept (review 92: it was closed)
        writer.write(b"\x0bMSH|^~\\&|LIS|HOSP\r" + b"X" * 4096 + b"\x1c\r")
        await writer.drain()
        for _ in range(2):
            assert b"MSA|AR" in await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 5)
        writer.close()
    finally:
        stopping.set()
        await serving
    assert registry.get_sample_value("lab_ack_latency_seconds_count", {"channel": "mllp"}) == 2


def test_resend_answers_fall_in_their_own_ack_latency_buckets() -> None:
    """Review 116: a "resend" answer after the 5 s retry window (or about 10 s behind a failing
    batch) fell in `+Inf` with every hang; the buckets now reach 30 s."""
    registry = CollectorRegistry()
    metrics = LabIngestionMetrics(registry)
    for seconds in (5.1, 10.2, 45.0):
        metrics.ack_latency.labels("mllp").observe(seconds)
    buckets = {
        sample.labels["le"]: sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        if family.name == "lab_ack_latency_seconds"
        for sample in family.samples
        if sample.name.endswith("_bucket")
    }
    assert (buckets["5.0"], buckets["7.5"], buckets["15.0"], buckets["30.0"]) == (0, 1, 2, 2)
    assert buckets["+Inf"] == 3


def test_every_channels_per_result_counters_are_shown_at_zero_from_the_start() -> None:
    """A series that appears only with its first event hides it from ``rate()`` and
    ``increase()``: each channel's counts are exposed at 0 before any message."""
    exposed = generate_latest(_fresh_registry()).decode()
    for channel in ("mllp", "hl7-http", "fhir", "json"):
        for name in ("lab_results_stored_total", "lab_results_cancelled_total",
                     "lab_results_not_obtained_total", "lab_results_limits_total",
                     "lab_messages_duplicate_total"):  # fmt: skip
            assert _sample(exposed, name, channel=channel) == 0


def test_counts_go_to_the_series_of_their_own_labels() -> None:
    """Series looked up once per label values (``LabelledChildren``) still count apart."""
    registry = CollectorRegistry()
    metrics = LabIngestionMetrics(registry)
    stored = IngestOutcome(accepted=True, results=2)
    count_outcome(metrics, "mllp", "LIS^HOSP", stored)
    count_outcome(metrics, "mllp", "LIS^HOSP", stored)
    count_outcome(metrics, "fhir", "lab^FHIR", IngestOutcome(accepted=True, results=1))
    exposed = generate_latest(registry).decode()
    received = "lab_messages_received_total"
    assert _sample(exposed, received, channel="mllp", source="LIS^HOSP") == 2
    assert _sample(exposed, received, channel="fhir", source="lab^FHIR") == 1
    assert _sample(exposed, "lab_results_stored_total", channel="mllp") == 4
    assert _sample(exposed, "lab_results_stored_total", channel="fhir") == 1
    assert _sample(exposed, "lab_results_stored_total", channel="json") == 0


def _fresh_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    LabIngestionMetrics(registry)
    return registry
