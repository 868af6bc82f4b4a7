"""A sender named by the patient's hospital number is no sender (review 108).

A token bound to no sender delivers JSON as any sender, and the body's ``source`` is stored
(messages, results, result key claims) and published (``lab.results.v1``) as written: one
holding the patient's number (``LIS-MRN4711``) is refused (``malformed-message``, 422, kept),
its kept copy's and its rejection's sender masked as a message id is. An allow-listed
sender's name is the operator's, never refused; HL7's sender is always allow-listed, FHIR's
is its token's name; FHIR's ``meta.source`` (read by nobody) is masked in a kept copy.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.json_redaction import redact_json
from services.lab_ingestion.adapters.redaction import dump_json
from services.lab_ingestion.domain.matching import holds_a_number
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from services.lab_ingestion.service_layer.senders import NUMBER_IN_SENDER
from shared.contracts.events.lab import Channel
from shared.contracts.topics import LAB_REJECTED
from tests.unit.lab_ingestion.route_fakes import JSON_BODY, hash_identifier, observation
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor, message

NUMBER = "MRN4711"
# its rejection's id, fixed: the event's payload is searched for "4711", and a drawn id
# (uuid4) holds it once in about 2,100 draws (its version group reads 4711 once in 4,096)
REJECTION_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def sent_as(
    application: str, facility: str, channel: Channel = Channel.JSON, mrn: str = NUMBER
) -> IngestLabMessage:
    """Message "1" about ``mrn`` from a token bound to no sender, as ``application^facility``
    (FakeLabs allows LIS^HOSP only), with its kept copy, rejected as ``REJECTION_ID``."""
    command = message("1", mrn=mrn)
    sent = dataclasses.replace(
        command.message, channel=channel, source_application=application, source_facility=facility
    )
    body = JSON_BODY | {"source": {"application": application, "facility": facility},
                        "patient": {"identifier": mrn}}  # fmt: skip
    return dataclasses.replace(
        command, message=sent, check_source=channel is Channel.MLLP,
        redact=lambda: dump_json(redact_json(body, hash_identifier)),
        inherited_rejection_id=REJECTION_ID,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("application", "facility"),
    [("LIS-MRN4711", "HOSP"), ("lismrn4711x", "HOSP"), ("LIS", "MRN4711"), ("LIS", "mrn 4711")],
)
async def test_a_json_sender_holding_the_patients_number_is_refused(
    application: str, facility: str
) -> None:
    db = FakeDatabase(enrolled={f"h({NUMBER})": "S-1", "h(MRN 4711)": "S-1"})
    mrn = "MRN 4711" if " " in facility else NUMBER  # (written with a blank: searched as such)
    (refused,) = await ingestor(db)([sent_as(application, facility, mrn=mrn)])
    assert refused.code is RejectionCode.MALFORMED and refused.reason == NUMBER_IN_SENDER
    assert not db.results and not db.messages
    assert [topic for topic, _ in db.events] == [LAB_REJECTED]
    payload = db.events[0][1].payload
    assert payload["rejection_id"] == str(REJECTION_ID)  # (no 4711 drawn into it)
    assert "4711" not in json.dumps(payload, default=str)


async def test_a_sender_that_holds_no_number_of_the_patient_still_delivers() -> None:
    """Another patient's number, a shorter piece of it, or no number at all."""
    db = FakeDatabase(enrolled={f"h({NUMBER})": "S-1"})
    outcomes = []
    for application in ("LIS-4712", "MRN471", "X"):
        outcomes += await ingestor(db)([sent_as(application, "HOSP")])
    assert [o.accepted for o in outcomes] == [True, True, True], outcomes


@pytest.mark.parametrize("channel", [Channel.JSON, Channel.MLLP, Channel.FHIR])
async def test_an_allow_listed_or_token_named_sender_is_never_refused_for_it(
    channel: Channel,
) -> None:
    """LIS^HOSP is on the allow-list: its name is the operator's, even where a patient's
    number (``HOSP``) is in it; a FHIR sender is its token's name (not the payload's)."""
    db = FakeDatabase(enrolled={"h(HOSP)": "S-1"})
    application, facility = ("hosp-lab", "FHIR") if channel is Channel.FHIR else ("LIS", "HOSP")
    (outcome,) = await ingestor(db)([sent_as(application, facility, channel, mrn="HOSP")])
    assert outcome.accepted and outcome.results == 1, outcome


@given(
    prefix=st.text("ABCxyz-_. ", max_size=6),
    suffix=st.text("ABCxyz0-_. ", max_size=6),
    upper=st.booleans(),
)
@settings(max_examples=200)
def test_a_number_is_found_in_a_name_however_it_is_run_in(
    prefix: str, suffix: str, upper: bool
) -> None:
    written = NUMBER.upper() if upper else NUMBER.lower()
    assert holds_a_number(f"{prefix}{written}{suffix}", [NUMBER])
    assert holds_a_number(f"{prefix}756123456{suffix}", ["756.123.456"])  # as its digits
    assert not holds_a_number(f"{prefix}MRN{suffix}", ["MRN"])  # too short to be searched


def test_a_json_copy_masks_a_number_run_into_its_sender() -> None:
    """Where an unlisted sender's rejection is listed and announced from."""
    payload = copy.deepcopy(JSON_BODY)
    payload["patient"] = {"identifier": NUMBER}
    payload["source"] = {"application": f"LIS{NUMBER}", "facility": f"HOSP-{NUMBER}"}
    source = redact_json(payload, hash_identifier)["source"]
    assert source == {"application": f"LIS#{hash_identifier(NUMBER)[:12]}",
                      "facility": f"HOSP-{hash_identifier(NUMBER)}"}  # fmt: skip


def test_a_fhir_copy_masks_a_number_run_into_its_meta_source() -> None:
    """FHIR's own name for the sending system, read by nobody here (the sender is the
    token's): kept, with a number run into it masked as in an id."""
    resource = observation(meta={"source": f"urn:lis:LIS{NUMBER}#v1"},
                           subject={"identifier": {"value": NUMBER}})  # fmt: skip
    source = redact_fhir(resource, hash_identifier)["meta"]["source"]
    assert source == f"urn:lis:LIS#{hash_identifier(NUMBER)[:12]}#v1"
