"""A large input that the service layer rejects is redacted off the event loop (review 45):
its copy is made on a worker thread before the input is handed on, so a megabyte message
(an unlisted sender's over MLLP, or any lab token's over HTTP) never stalls other senders'
answers for the redaction's time."""

from __future__ import annotations

import json
import threading
from typing import Any
from unittest.mock import patch

from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters import fhir_redaction, hl7_codec
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints import hl7_flow
from services.lab_ingestion.entrypoints.copies import LARGE_INPUT_CHARS
from services.lab_ingestion.service_layer.commands import Command, IngestLabMessage, IngestOutcome
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.route_fakes import (
    LAB,
    FakeSubmit,
    hash_identifier,
    lab_client,
    observation,
)
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor


def large_oru(sender: str = "EVIL^NOWHERE") -> str:
    app, facility = sender.split("^")
    notes = "\r".join(f"NTE|{i}||" + "\\.sp\\" * 120 for i in range(400))
    return (
        f"MSH|^~\\&|{app}|{facility}|LENA|TRIAL|20261120090000+0100||ORU^R01|MSG-1|P|2.5.1\r"
        "PID|1||MRN123^^^HOSP^MR||Smith^John||19610304\r"
        "OBR|1|PLC1|ORD1|LAB^Lab panel|||20261120081500+0100\r"
        "OBX|1|NM|1988-5^CRP^LN||12.5|mg/L|0-5|H|||F|||20261120081500+0100\r" + notes + "\r"
    )


async def test_a_large_hl7_message_refused_by_the_service_layer_is_redacted_off_the_loop() -> None:
    store = ingestor(FakeDatabase())  # its allow-list: LIS^HOSP only

    async def submit(command: Command) -> IngestOutcome:
        (outcome,) = await store([command])
        return outcome

    text = large_oru()
    assert len(text) > LARGE_INPUT_CHARS
    loop_thread = threading.current_thread()
    on_loop: list[int] = []
    real_redact = hl7_codec.redact

    def watched(payload: str, identify: Any) -> str:
        if threading.current_thread() is loop_thread:
            on_loop.append(len(payload))
        return real_redact(payload, identify)

    acknowledger = hl7_flow.Hl7Acknowledger(
        submit, hash_identifier, LabIngestionMetrics(CollectorRegistry())
    )
    with patch.object(hl7_flow, "redact", watched):
        code, _ = await acknowledger.acknowledge(text.encode(), Channel.MLLP)
    assert code == "AR"  # unknown-source, kept (as its length and digest only)
    assert on_loop == [], f"{on_loop[0]} characters redacted on the event loop"


async def test_a_large_fhir_observation_refused_by_the_service_layer_is_redacted_off_the_loop() -> (
    None
):
    loop_thread = threading.current_thread()
    on_loop: list[str] = []
    real = fhir_redaction.redact_fhir

    def watched(payload: object, identify: Any) -> Any:
        if threading.current_thread() is loop_thread:
            on_loop.append("redact_fhir")
        return real(payload, identify)

    def service_layer(command: Command) -> IngestOutcome:
        assert isinstance(command, IngestLabMessage)  # one Observation
        command.redact()  # as rejections.reject does for a rejected message (on the loop)
        return IngestOutcome.rejected(
            RejectionCode.UNCONVERTIBLE_UNIT, "unit furlong cannot be converted"
        )

    big = observation(
        valueQuantity={"value": 1.5, "unit": "furlong", "code": "[fur_us]"},
        method={"coding": [{"system": "urn:x", "code": f"c{i}", "display": "drawn at home"}
                           for i in range(3000)]},
    )  # fmt: skip
    with patch.object(fhir_redaction, "redact_fhir", watched):
        async with lab_client(FakeSubmit(service_layer)) as client:
            response = await client.post(
                "/fhir/Observation", data=json.dumps(big).encode(), headers=LAB
            )
    assert response.status == 422
    assert on_loop == []
