"""OBX-7 split by a unit's plain caret, read whole since eae8c09 (review 128).

- A message stored before, when its range was read as its first component alone
  (``1.8-7.5 x10``), and resent after the upgrade (its ACK lost) is the same message: its
  stored digest is that of the old reading (``message_identity.ranges_read_before``).
- OBX-7's second component is read only where the rejoin needs it (the first ends in a
  power base): an escape HL7 does not define there refused every CRP with a range
  ``0-10^\\Zab\\``, accepted before with the range 0-10.
- A unit split in a repetition of OBX-6 (``10*9/L~x10^9/L``) is refused by its cause; a
  bare power base before a complete unit (``x10^G/L``: 10 G/L?) stays refused.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.hl7_msh import Hl7InputError
from services.lab_ingestion.domain.message_identity import (
    BEFORE_SPLIT_RANGES,
    content_digest,
    ranges_read_before,
    says_the_same,
)
from services.lab_ingestion.domain.model import LabMessage, Rejected, RejectionCode
from tests.unit.lab_ingestion.hl7_samples import (
    FAST,
    HASH,
    fake_hash,
    one_result_oru,
    only_result,
    planned,
)

ANC, PLT, CRP = "26499-4^ANC^LN", "777-3^PLT^LN", "1988-5^CRP^LN"


def _message(obx3: str, value: str, obx6: str, obx7: str) -> LabMessage:
    message, _ = parse_oru(one_result_oru(obx3, value, obx6, obx7), identify=fake_hash)
    return message


def _refusal(obx3: str, value: str, obx6: str) -> Rejected:
    """The message's refusal (a trial result refused refuses its message)."""
    result = planned(one_result_oru(obx3, value, obx6))
    assert isinstance(result, Rejected), result
    return result


def _digest_before(message: LabMessage) -> str:
    """The digest as eae8c09's predecessor made it: OBX-7 its first component alone."""
    observations = tuple(
        replace(o, reference_range=(o.reference_range or "").split("^")[0] or None)
        for o in message.observations
    )
    return content_digest(replace(message, observations=observations), HASH)


@pytest.mark.parametrize(
    ("obx3", "value", "obx6", "obx7", "before"),
    [
        (ANC, "2.5", "10*9/L", "1.8-7.5 x10^9/L", "1.8-7.5 x10"),
        (PLT, "150", "x10^9/L", "150-400x10^9/L", "150-400x10"),
        # a later repetition is never joined
        (ANC, "2.5", "10*9/L", "1.8-7.5 10^9/L~1.5-7 x10^9/L", "1.8-7.5 10~1.5-7 x10"),
    ],
)
def test_a_message_stored_with_its_range_read_as_before_is_the_same(
    obx3: str, value: str, obx6: str, obx7: str, before: str
) -> None:
    message = _message(obx3, value, obx6, obx7)
    [observation] = message.observations
    assert observation.range_before == before
    old = replace(message, observations=(replace(observation, reference_range=before),))
    stored = content_digest(old, HASH)  # as the version before eae8c09 stored it
    assert stored != content_digest(message, HASH)
    # as the batch read gives it: marked as made before (migration 0029)
    assert says_the_same(BEFORE_SPLIT_RANGES + stored, content_digest(message, HASH), message, HASH)


def test_a_message_stored_since_with_its_range_cut_short_is_not_the_whole_range() -> None:
    """Review 129: a message stored since the upgrade whose OBX-7 was cut short after its
    power base (`1.8-7.5 x10`, no range), sent again under its id with the whole range
    (`1.8-7.5 x10^9/L`), passed for a duplicate and the range was dropped. Only a digest
    made before the upgrade is compared with the old reading."""
    short = _message(ANC, "2.5", "10*9/L", "1.8-7.5 x10")
    whole = _message(ANC, "2.5", "10*9/L", "1.8-7.5 x10^9/L")
    stored = content_digest(short, HASH)  # stored since: no mark
    assert not says_the_same(stored, content_digest(whole, HASH), whole, HASH)
    assert says_the_same(stored, content_digest(short, HASH), short, HASH)  # a plain resend
    assert says_the_same(BEFORE_SPLIT_RANGES + stored, content_digest(short, HASH), short, HASH)


def test_a_range_read_the_same_before_has_no_earlier_reading() -> None:
    for obx7 in ("1.8-7.5", "0-10", "1.8-7.5 x10\\S\\9/L", "0 - 10^mg/L"):
        message = _message(ANC, "2.5", "10*9/L", obx7)
        assert message.observations[0].range_before is None
        assert ranges_read_before(message) is None


@FAST
@given(low=st.integers(1, 9), high=st.integers(10, 99), other=st.integers(1, 9))
def test_another_range_under_the_id_is_still_another_message(
    low: int, high: int, other: int
) -> None:
    """Only the old reading of the same OBX-7 is forgiven: a stored message whose range said
    something else is no resend."""
    message = _message(ANC, "2.5", "10*9/L", f"{low}-{high} x10^9/L")
    stored = _digest_before(_message(ANC, "2.5", "10*9/L", f"{other}-{high + 1} x10^9/L"))
    marked = BEFORE_SPLIT_RANGES + stored
    assert not says_the_same(marked, content_digest(message, HASH), message, HASH)


@pytest.mark.parametrize("obx7", ["0-10^\\Zab\\", "0-10^\\Cxxyy\\", "0 - 10^\\Zab\\"])
def test_a_bad_escape_in_a_second_component_the_range_does_not_join_is_not_read(
    obx7: str,
) -> None:
    result = only_result(one_result_oru(CRP, "5", "mg/L", obx7))
    assert (result.reference_low, result.reference_high) == (0, 10)


def test_a_bad_escape_in_a_range_read_whole_is_refused_as_before() -> None:
    with pytest.raises(Hl7InputError, match="OBX-7 holds an escape sequence"):
        text = one_result_oru(ANC, "2.5", "10*9/L", "1.8-7.5 x10^9\\Zab\\/L")
        parse_oru(text, identify=fake_hash)


@pytest.mark.parametrize("obx6", ["10*9/L~x10^9/L", "x10^9/L~10^9/L", "10*9/L~x10^9/L^L"])
def test_a_unit_split_in_a_repetition_is_refused_by_its_cause(obx6: str) -> None:
    result = _refusal(ANC, "2.5", obx6)
    assert result.code is RejectionCode.UNCONVERTIBLE_UNIT
    assert (
        "as two components in a repetition of OBX-6, where a unit is not read joined"
        in result.reason
    )
    assert "beside" not in result.reason


@pytest.mark.parametrize("obx6", ["x10^G/L", "10^10*9/L", "10^K/uL", "10E^10*9/L"])
def test_a_power_base_before_a_complete_unit_stays_refused(obx6: str) -> None:
    """``x10^G/L`` may be 10 x G/L: which unit was meant is a guess."""
    result = _refusal(PLT, "150", obx6)
    assert result.code is RejectionCode.UNCONVERTIBLE_UNIT
    assert "no unit the service lists when joined" in result.reason
