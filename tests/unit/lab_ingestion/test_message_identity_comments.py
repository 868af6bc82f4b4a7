"""A laboratory's comment is part of what a message says (its content digest), but only
when there is one: the digests of messages without comments, and of messages stored before
comments were read, still recognise their resends."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from services.lab_ingestion.adapters.hl7_codec import Hl7InputError, parse_oru, redact
from services.lab_ingestion.domain.kept_copy import kept_copy_hash
from services.lab_ingestion.domain.message_identity import (
    BEFORE_COMMENTS,
    content_digest,
    digest_of_every_result,
    says_the_same,
)
from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.service_layer.replay import Replayer, ReplayRefused
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_replay import MESSAGE, RecordingIngest, keyed_hash

AT = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
CRP = ObservationInput(
    "K1", (Coding("1988-5", "http://loinc.org"),), "12", ("mg/L",), collected_at=AT
)
PLATELETS = ObservationInput(
    "K2", (Coding("777-3", "http://loinc.org"),), "45", ("10*9/L",), collected_at=AT,
    reference_range="150-400", abnormal_flag="L",
)  # fmt: skip
# the digest lab-ingestion made of this message before comments were read (d0b9525)
DIGEST_BEFORE = "f7309fc6e6202f96a5cccdb8fd41331b"


def message(*observations: ObservationInput, channel: Channel = Channel.MLLP) -> LabMessage:
    return LabMessage(channel, "LIS", "HOSP", "M1", "MRN1", observations)


def commented(observation: ObservationInput) -> ObservationInput:
    return replace(observation, laboratory_comment=True)


def test_a_message_without_comments_has_the_digest_it_always_had() -> None:
    for channel in (Channel.MLLP, Channel.JSON):
        sent = message(CRP, PLATELETS, channel=channel)
        assert content_digest(sent, "h") == DIGEST_BEFORE
        assert digest_of_every_result(sent, "h") == DIGEST_BEFORE


def test_a_comment_is_other_content_whatever_result_it_concerns() -> None:
    plain = content_digest(message(CRP, PLATELETS), "h")
    on_platelets = content_digest(message(CRP, commented(PLATELETS)), "h")
    on_crp = content_digest(message(commented(CRP), PLATELETS), "h")
    assert len({plain, on_platelets, on_crp}) == 3


def test_the_same_id_resent_with_a_comment_added_is_a_reused_id_not_a_resend() -> None:
    """Stored since comments are read, without one: a resend adding one says more (answered
    as a duplicate, the comment would be dropped unseen); one without it is a resend."""
    stored = content_digest(message(CRP, PLATELETS), "h")
    noted = message(CRP, commented(PLATELETS))
    assert not says_the_same(stored, content_digest(noted, "h"), noted, "h")
    again = message(CRP, PLATELETS)
    assert says_the_same(stored, content_digest(again, "h"), again, "h")
    stored_noted = content_digest(noted, "h")  # and the other way round
    assert not says_the_same(stored_noted, content_digest(again, "h"), again, "h")
    assert says_the_same(stored_noted, content_digest(noted, "h"), noted, "h")


def test_a_message_stored_before_comments_were_read_is_known_when_resent_comment_and_all() -> None:
    """Its digest never covered the comment the laboratory wrote then (the batch read marks
    it, migration 0023): the resend after the upgrade is the same message, not a reused id;
    other content is still told apart."""
    stored = BEFORE_COMMENTS + DIGEST_BEFORE
    resent = message(CRP, commented(PLATELETS))
    assert says_the_same(stored, content_digest(resent, "h"), resent, "h")
    plain = message(CRP, PLATELETS)
    assert says_the_same(stored, content_digest(plain, "h"), plain, "h")
    other = message(CRP, commented(replace(PLATELETS, value="46")))
    assert not says_the_same(stored, content_digest(other, "h"), other, "h")
    assert not says_the_same(stored, content_digest(resent, "other"), resent, "other")


def test_a_json_message_stored_before_its_order_stopped_counting_is_still_known() -> None:
    """Its digest is of its results in the order sent, made before comments were read."""
    stored = BEFORE_COMMENTS + content_digest(message(PLATELETS, CRP), "h", comments=False)
    resent = message(PLATELETS, commented(CRP), channel=Channel.JSON)
    assert content_digest(resent, "h", comments=False) != stored.removeprefix(BEFORE_COMMENTS)
    assert says_the_same(stored, content_digest(resent, "h"), resent, "h")


NOTED = MESSAGE + "NTE|1|L|Clumps seen by DOE\r"


def rejection_of(text: str, *, comments: bool) -> KeptRejection:
    """``text`` kept as a rejection, its digest made as now or as before comments were read."""
    original, _ = parse_oru(text, identify=keyed_hash)
    patient_hmac = keyed_hash("MRN77")
    return KeptRejection(
        uuid.uuid4(), Channel.MLLP.value, "LABSYS^NORTHLAB", original.control_id,
        "unknown-source", "sender not allowed", redact(text, keyed_hash),
        datetime(2026, 11, 2, 9, 30, tzinfo=UTC), patient_hmac,
        content_digest(original, patient_hmac, comments=comments), None, None,
    )  # fmt: skip


def read_copy(rejection: KeptRejection) -> LabMessage:
    try:
        message, _ = parse_oru(rejection.payload, identify=kept_copy_hash)
    except Hl7InputError as error:
        raise ValueError(error.reason) from None
    return message


def test_a_kept_copy_with_a_comment_replays_whenever_it_was_kept() -> None:
    """The redaction keeps every NTE, its text scrubbed but never emptied: the copy says
    what the message said, comment and all, as a rejection kept now or before records it."""
    for comments in (True, False):
        rejection = rejection_of(NOTED, comments=comments)
        assert "DOE" not in rejection.payload
        copy = Replayer(read_copy, RecordingIngest()).check(rejection)
        assert copy.observations[0].laboratory_comment


def test_a_copy_that_says_something_else_is_still_refused() -> None:
    rejection = rejection_of(NOTED, comments=True)
    other = dataclasses.replace(rejection, payload=rejection.payload.replace("|42|", "|43|"))
    try:
        Replayer(read_copy, RecordingIngest()).check(other)
    except ReplayRefused:
        return
    raise AssertionError("a copy with another value was replayed")
