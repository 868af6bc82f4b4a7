"""A FHIR sender's rejection, through the batch ingestor and the FHIR answers: its outcome,
kept rejection and ``lab.rejected.v1`` event name FHIR's elements (an HL7 sender's keep
HL7's fields), and the OperationOutcome issue's ``expression`` is the element the reason
names, within the transaction's entry that failed it (fix 118)."""

from __future__ import annotations

import dataclasses
import json

from services.lab_ingestion.adapters.fhir_bundle import TRANSACTION, BundleEntry, ParsedBundle
from services.lab_ingestion.domain.reason_wording import speaks_hl7
from services.lab_ingestion.entrypoints import fhir_responses as fhir
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from shared.contracts.events.lab import Channel
from shared.contracts.topics import LAB_REJECTED
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor, message

NOTHING_STORED = "correction of a result that is not stored (no final result under this "


def _as(channel: Channel, command: IngestLabMessage) -> IngestLabMessage:
    lab = dataclasses.replace(command.message, channel=channel)
    return IngestLabMessage(lab, lambda: "", command.received_at)


async def _correction_of_nothing(channel: Channel) -> tuple[IngestOutcome, str]:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    (outcome,) = await ingestor(db)([_as(channel, message("c1", status="C"))])
    assert not outcome.accepted and outcome.reason.startswith(NOTHING_STORED), outcome
    (event,) = [envelope for topic, envelope in db.events if topic == LAB_REJECTED]
    assert event.payload["reason"] == outcome.reason  # as answered, so kept and published
    return outcome, event.payload["reason"]


async def test_a_fhir_correction_of_nothing_names_the_observation_identifier() -> None:
    outcome, _ = await _correction_of_nothing(Channel.FHIR)
    assert "under this identifier (Observation.identifier))" in outcome.reason
    assert not speaks_hl7(outcome.reason)
    response = fhir.observation_response(outcome)
    assert response.status == 422 and response.text is not None
    (issue,) = json.loads(response.text)["issue"]
    assert issue["expression"] == ["Observation.identifier"], issue


async def test_an_hl7_correction_of_nothing_keeps_hl7s_words() -> None:
    outcome, _ = await _correction_of_nothing(Channel.MLLP)
    assert "under this order and test)" in outcome.reason


async def test_a_transaction_names_the_element_within_the_entry_that_failed_it() -> None:
    outcome, _ = await _correction_of_nothing(Channel.FHIR)
    lab = _as(Channel.FHIR, message("c1", status="C")).message
    patient, observation = BundleEntry(0), BundleEntry(1, message=lab)
    bundle = ParsedBundle(TRANSACTION, (patient, observation))
    failed = dataclasses.replace(outcome, failed_part=0)
    response = fhir.transaction_response(bundle, failed)
    assert response.text is not None
    (issue,) = json.loads(response.text)["issue"]
    assert issue["expression"] == ["Bundle.entry[1].resource.identifier"], issue
    unknown = fhir.transaction_response(bundle, dataclasses.replace(outcome, failed_part=None))
    assert unknown.text is not None
    assert "expression" not in json.loads(unknown.text)["issue"][0]  # which entry: not known
