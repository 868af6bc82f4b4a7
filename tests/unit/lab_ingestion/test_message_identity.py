"""A resend has the digest of the message it repeats; other content has another."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from services.lab_ingestion.domain.message_identity import (  # _digest: as kept before
    _digest,
    content_digest,
    says_the_same,
)
from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput
from shared.contracts.events.lab import Channel

AT = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
CRP = ObservationInput("K1", (Coding("1988-5", "http://loinc.org"),), "12", ("mg/L",),
                       collected_at=AT)  # fmt: skip


def digest(*observations: ObservationInput) -> str:
    return content_digest(LabMessage(Channel.MLLP, "LIS", "HOSP", "M1", "MRN1", observations), "h")


def test_a_local_time_read_with_another_msh7_offset_is_the_same_sample() -> None:
    """Sent before a clock change and resent after it, OBX-14 without an offset is read with
    MSH-7's offset of the moment: an hour apart, yet the same sample and the same message."""
    local = datetime(2026, 3, 29, 1, 30)
    before = replace(CRP, collected_local=local, collected_at=AT)
    after = replace(CRP, collected_local=local, collected_at=AT - timedelta(hours=1))
    assert digest(before) == digest(after)


def test_the_same_instant_written_with_another_offset_is_the_same_sample() -> None:
    zurich = replace(CRP, collected_at=AT.astimezone(timezone(timedelta(hours=1))))
    assert digest(zurich) == digest(CRP)


def test_another_value_status_or_time_is_another_message() -> None:
    others = [
        replace(CRP, value="13"), replace(CRP, status="C"), replace(CRP, unit=("mg/dL",)),
        replace(CRP, collected_at=AT + timedelta(minutes=1)), replace(CRP, result_key="K2"),
        # the grade is read from them: ALT 100 is grade 1 against 0-40, grade 3 against 0-19
        replace(CRP, reference_range="0-5"), replace(CRP, abnormal_flag="H"),
    ]  # fmt: skip
    assert len({digest(CRP), *(digest(o) for o in others)}) == 1 + len(others)


def test_a_local_report_time_read_with_another_msh7_offset_is_the_same_message() -> None:
    """OBX-19 without an offset is read with MSH-7's offset of the moment too: the resend
    after a clock change reports the same result an hour apart, and is still a resend."""
    collected, reported = datetime(2026, 3, 29, 1, 30), datetime(2026, 3, 29, 1, 50)
    before = replace(
        CRP, collected_local=collected, reported_local=reported,
        reported_at=AT + timedelta(minutes=20),
    )  # fmt: skip
    after = replace(
        before, collected_at=AT - timedelta(hours=1),
        reported_at=AT - timedelta(hours=1) + timedelta(minutes=20),
    )  # fmt: skip
    assert digest(before) == digest(after) == digest(replace(after, reported_local=None))


def message_of(channel: Channel, *observations: ObservationInput) -> LabMessage:
    return LabMessage(channel, "LIS", "HOSP", "M1", "MRN1", observations)


def test_a_json_bodys_results_in_another_order_are_the_same_message() -> None:
    """Each JSON result has a result_id of its own: a resend rebuilt from an unordered
    source is a resend, not a reused id (HL7 keeps its order: F then C under one key)."""
    other = replace(CRP, result_key="K2", value="30")
    for channel, same in ((Channel.JSON, True), (Channel.MLLP, False)):
        first = content_digest(message_of(channel, CRP, other), "h")
        again = content_digest(message_of(channel, other, CRP), "h")
        assert (first == again) is same


def test_a_json_message_stored_with_its_results_in_the_order_sent_is_still_known() -> None:
    """Its digest was kept before the order stopped counting: a resend in that order is
    the same message; in another order it cannot be told from a reused id."""
    other = replace(CRP, result_key="K2", value="30")
    sent = message_of(Channel.JSON, other, CRP)
    stored = _digest(sent, "h")  # as kept before
    assert says_the_same(stored, content_digest(sent, "h"), sent, "h")
    assert not says_the_same("0" * 32, content_digest(sent, "h"), sent, "h")
    assert says_the_same(None, content_digest(sent, "h"), sent, "h")
