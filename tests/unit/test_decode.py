"""decode_message: every consumed message either decodes or is a PoisonMessage with a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contracts.events.lab import LabResultRecorded
from shared.contracts.topics import TOPICS
from shared.messaging.consumed import ConsumedMessage
from shared.messaging.handling import PoisonMessage
from shared.messaging.processing import DecodedEvent, decode_message
from tests.factories import crp_result, subject_enrolled

LAB_RESULTS = "lab.results.v1"
TRIAL_SUBJECTS = "trial.subjects.v1"

topics = st.one_of(st.sampled_from(sorted(TOPICS)), st.text(max_size=30))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)

ENVELOPE_KEYS = [
    "event_id",
    "event_type",
    "schema_version",
    "occurred_at",
    "recorded_at",
    "producer",
    "subject_id",
    "correlation_id",
    "causation_id",
    "payload",
]


def message(
    value: bytes | None, topic: str = LAB_RESULTS, key: bytes | None = b"S-1"
) -> ConsumedMessage:
    return ConsumedMessage(topic=topic, partition=0, offset=7, key=key, value=value)


def decode_or_poison(msg: ConsumedMessage) -> DecodedEvent | PoisonMessage:
    """Run decode_message; any exception other than PoisonMessage fails the test."""
    try:
        return decode_message(msg)
    except PoisonMessage as poison:
        return poison


def assert_outcome(msg: ConsumedMessage) -> DecodedEvent | PoisonMessage:
    outcome = decode_or_poison(msg)
    if isinstance(outcome, PoisonMessage):
        assert isinstance(outcome.reason_code, str)
        assert outcome.reason_code
        assert isinstance(outcome.reason, str)
        assert outcome.reason
        assert str(outcome) == outcome.reason
    else:
        assert isinstance(outcome, DecodedEvent)
        assert outcome.message is msg
        assert outcome.envelope.event_type == type(outcome.payload).event_type
    return outcome


# --- properties -------------------------------------------------------------------------------


@given(value=st.one_of(st.none(), st.binary(max_size=300)), topic=topics)
def test_arbitrary_bytes_decode_or_are_poison(value: bytes | None, topic: str) -> None:
    outcome = assert_outcome(message(value, topic))
    # random bytes are essentially never a valid envelope
    assert isinstance(outcome, PoisonMessage)


@given(document=json_values, topic=topics)
def test_arbitrary_json_decodes_or_is_poison(document: Any, topic: str) -> None:
    assert_outcome(message(json.dumps(document).encode(), topic))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(["crp", "subject"]),
    overrides=st.dictionaries(st.sampled_from(ENVELOPE_KEYS), json_values, max_size=3),
    removed=st.sets(st.sampled_from(ENVELOPE_KEYS), max_size=2),
    payload_overrides=st.dictionaries(st.text(max_size=25), json_values, max_size=3),
    topic=topics,
)
def test_mutated_envelopes_decode_or_are_poison(
    base: str,
    overrides: dict[str, Any],
    removed: set[str],
    payload_overrides: dict[str, Any],
    topic: str,
) -> None:
    envelope = crp_result("S-1", 4.0) if base == "crp" else subject_enrolled("S-1")
    document = json.loads(envelope.to_bytes())
    document["payload"].update(payload_overrides)
    document.update(overrides)
    for key in removed:
        document.pop(key, None)
    assert_outcome(message(json.dumps(document).encode(), topic))


@given(value=st.text(max_size=200))
def test_arbitrary_text_is_poison(value: str) -> None:
    outcome = assert_outcome(message(value.encode("utf-8", errors="surrogatepass")))
    assert isinstance(outcome, PoisonMessage)


# --- examples ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, b""])
def test_empty_value(value: bytes | None) -> None:
    with pytest.raises(PoisonMessage) as info:
        decode_message(message(value))
    assert info.value.reason_code == "empty-value"
    assert info.value.reason


@pytest.mark.parametrize(
    "value",
    [b"garbage", b"\xff\xfe\x00", b"{", b"[]", b"null", b"42", b'{"event_type": "X"}'],
)
def test_garbage_is_an_invalid_envelope(value: bytes) -> None:
    with pytest.raises(PoisonMessage) as info:
        decode_message(message(value))
    assert info.value.reason_code == "invalid-envelope"
    assert info.value.reason


def test_invalid_envelope_reason_names_the_fields() -> None:
    document = json.loads(crp_result("S-1", 1.0).to_bytes())
    del document["producer"]
    document["occurred_at"] = "yesterday"
    with pytest.raises(PoisonMessage) as info:
        decode_message(message(json.dumps(document).encode()))
    assert info.value.reason_code == "invalid-envelope"
    assert "producer" in info.value.reason
    assert "occurred_at" in info.value.reason


def test_event_type_not_carried_by_the_topic() -> None:
    envelope = subject_enrolled("S-1")
    with pytest.raises(PoisonMessage) as info:
        decode_message(message(envelope.to_bytes(), topic=LAB_RESULTS))
    assert info.value.reason_code == "unknown-event-type"
    assert "SubjectEnrolled" in info.value.reason
    assert LAB_RESULTS in info.value.reason


def test_event_type_unknown_to_the_registry() -> None:
    envelope = crp_result("S-1", 1.0).model_copy(update={"schema_version": 9})
    with pytest.raises(PoisonMessage) as info:
        decode_message(message(envelope.to_bytes(), topic=LAB_RESULTS))
    assert info.value.reason_code == "unknown-event-type"

    unknown = crp_result("S-1", 1.0).model_copy(update={"event_type": "Mystery"})
    with pytest.raises(PoisonMessage) as info:
        decode_message(message(unknown.to_bytes(), topic="not.a.platform.topic"))
    assert info.value.reason_code == "unknown-event-type"


def test_bad_payload_is_invalid_payload() -> None:
    envelope = crp_result("S-1", 1.0)
    bad = envelope.model_copy(update={"payload": {**envelope.payload, "value": "high"}})
    with pytest.raises(PoisonMessage) as info:
        decode_message(message(bad.to_bytes()))
    assert info.value.reason_code == "invalid-payload"
    assert "value" in info.value.reason


def test_payload_with_an_unknown_field_is_invalid_payload() -> None:
    envelope = subject_enrolled("S-1")
    bad = envelope.model_copy(update={"payload": {**envelope.payload, "patient_name": "Doe"}})
    with pytest.raises(PoisonMessage) as info:
        decode_message(message(bad.to_bytes(), topic=TRIAL_SUBJECTS))
    assert info.value.reason_code == "invalid-payload"


def test_valid_message_decodes() -> None:
    envelope = crp_result("S-9", 17.0)
    msg = message(envelope.to_bytes(), topic=LAB_RESULTS, key=b"S-9")
    event = decode_message(msg)
    assert isinstance(event, DecodedEvent)
    assert event.message is msg
    assert event.envelope == envelope
    assert isinstance(event.payload, LabResultRecorded)
    assert event.payload.value == 17.0


def test_valid_message_on_an_unlisted_topic_decodes_by_registry() -> None:
    envelope = subject_enrolled("S-9")
    event = decode_message(message(envelope.to_bytes(), topic="replay.topic"))
    assert event.envelope.event_id == envelope.event_id


def test_poison_message_attributes() -> None:
    poison = PoisonMessage("x", "y")
    assert poison.reason_code == "x"
    assert poison.reason == "y"
    assert str(poison) == "y"


@pytest.mark.parametrize(
    ("key", "subject", "reason"),
    [(b"S-1", "S-9", "wrong-key"), (None, "S-9", "wrong-key"), (b"S-9", None, "missing-subject")],
)
def test_an_event_not_under_its_subjects_key_is_poison(
    key: bytes | None, subject: str | None, reason: str
) -> None:
    """On a topic keyed by subject, an event under another key (or none) sits where its
    subject's other events are not: applied, it could overtake them."""
    raw = json.loads(crp_result("S-9", 17.0).to_bytes())
    raw["subject_id"] = subject
    with pytest.raises(PoisonMessage) as poison:
        decode_message(message(json.dumps(raw).encode(), topic=LAB_RESULTS, key=key))
    assert poison.value.reason_code == reason


@pytest.mark.parametrize("field", ["event_id", "recorded_at"])
def test_an_envelope_without_its_id_or_recording_time_is_poison(field: str) -> None:
    """Made up on decoding, a redelivery would get a new id and pass every inbox."""
    raw = json.loads(crp_result("S-9", 17.0).to_bytes())
    del raw[field]
    with pytest.raises(PoisonMessage) as poison:
        decode_message(message(json.dumps(raw).encode(), key=b"S-9"))
    assert poison.value.reason_code == "invalid-envelope" and field in poison.value.reason
