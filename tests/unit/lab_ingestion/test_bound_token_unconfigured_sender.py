"""A bound token delivers only as a sender on the allow-list (review 69).

A sender's site scopes patient matching. Once `cachexia source remove` takes a sender off
the allow-list (its site with it), a token bound to it must not go on delivering as it,
matched against every site's subjects: its JSON (and FHIR configured as it) is refused as
`unknown-source`, and so is anything a bound token sends as a sender never added. A token
bound to `<token name>^FHIR` delivers FHIR as that, configured or not; an unbound token, as
documented, as any sender.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.fhir_responses import observation_response
from services.lab_ingestion.service_layer.commands import (
    IngestLabMessage,
    IngestOutcome,
    IngestTransaction,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.unprocessable import as_rejection
from shared.contracts.events.lab import Channel
from shared.contracts.topics import LAB_REJECTED
from tests.unit.lab_ingestion.test_batch_ingestor import AT, FakeDatabase, ingestor, message

BOUND = frozenset({"LIS^GONE"})  # FakeLabs allows LIS^HOSP only


def _as(command: IngestLabMessage, application: str, facility: str) -> IngestLabMessage:
    sent = dataclasses.replace(
        command.message, channel=Channel.JSON,
        source_application=application, source_facility=facility,
    )  # fmt: skip
    return dataclasses.replace(command, message=sent, check_source=False)


def _fhir(command: IngestLabMessage, token: str, configured_as: tuple[str, str] | None) -> Any:
    sent = dataclasses.replace(
        command.message, channel=Channel.FHIR, source_application=token,
        source_facility="FHIR", configured_as=configured_as,
    )  # fmt: skip
    return dataclasses.replace(command, message=sent, check_source=False)


async def test_json_of_a_bound_token_as_a_sender_not_on_the_allow_list_is_refused() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    command = dataclasses.replace(_as(message("1"), "LIS", "GONE"), permitted_senders=BOUND)
    (refused,) = await ingestor(db)([command])
    assert refused.code is RejectionCode.UNKNOWN_SOURCE
    assert "'LIS^GONE' is not on the allow-list" in refused.reason
    assert "no longer" in refused.reason
    assert not db.results


async def test_json_of_a_bound_token_as_its_configured_sender_is_stored() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    command = dataclasses.replace(
        _as(message("1"), "LIS", "HOSP"), permitted_senders=frozenset({"LIS^HOSP", "LIS^GONE"})
    )
    (stored,) = await ingestor(db)([command])
    assert stored.accepted and stored.results == 1


async def test_an_unbound_token_still_delivers_as_any_sender() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    (stored,) = await ingestor(db)([_as(message("1"), "LIS", "GONE")])
    assert stored.accepted and stored.results == 1


async def test_fhir_configured_as_a_sender_gone_from_the_allow_list_is_refused() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    (refused,) = await ingestor(db)([_fhir(message("1"), "ch02", ("LIS", "GONE"))])
    assert refused.code is RejectionCode.UNKNOWN_SOURCE
    assert "'LIS^GONE' is not on the allow-list" in refused.reason
    assert [topic for topic, _ in db.events] == [LAB_REJECTED] and not db.results


async def test_a_fhir_transaction_configured_as_a_sender_gone_is_refused_whole() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    one = _fhir(message("1"), "ch02", ("LIS", "GONE")).message
    (refused,) = await ingestor(db)([IngestTransaction((one,), lambda: "", AT)])
    assert refused.code is RejectionCode.UNKNOWN_SOURCE and not db.results


async def test_fhir_of_a_token_bound_to_its_own_fhir_name_needs_no_allow_listing() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    (stored,) = await ingestor(db)([_fhir(message("1"), "hub", None)])
    assert stored.accepted and stored.results == 1


async def test_an_invalid_input_of_a_bound_token_as_a_sender_gone_is_answered_as_such() -> None:
    """Whatever else is wrong with it (JSON naming the sender, FHIR configured as it)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    json_input = RecordRejectedInput(
        Channel.JSON, RejectionCode.MALFORMED, "results: Field required", "{}", AT,
        source="LIS^GONE", permitted_senders=BOUND,
    )  # fmt: skip
    fhir_input = RecordRejectedInput(
        Channel.FHIR, RejectionCode.MALFORMED, "Observation.code: Field required", "{}", AT,
        source="ch02^FHIR", configured_as=("LIS", "GONE"),
    )  # fmt: skip
    fine = dataclasses.replace(json_input, source="LIS^HOSP", permitted_senders=None)
    outcomes = await ingestor(db)([json_input, fhir_input, fine])
    assert [o.code for o in outcomes] == [
        RejectionCode.UNKNOWN_SOURCE, RejectionCode.UNKNOWN_SOURCE, RejectionCode.MALFORMED,
    ]  # fmt: skip


def test_a_failed_fhir_message_keeps_the_sender_it_is_configured_as() -> None:
    command = _fhir(message("1"), "ch02", ("LIS", "GONE"))
    assert as_rejection(command, keep_payload=False).configured_as == ("LIS", "GONE")


def test_fhir_answers_a_sender_gone_403_forbidden() -> None:
    """As JSON's 403: not a 422 the laboratory would take for a fault of its resource."""
    refused = IngestOutcome.rejected(RejectionCode.UNKNOWN_SOURCE, "sender 'LIS^GONE' ...")
    response = observation_response(refused)
    assert response.status == 403
    assert response.text is not None
    assert json.loads(response.text)["issue"][0]["code"] == "forbidden"
