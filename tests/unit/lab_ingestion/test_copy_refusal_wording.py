"""Review 241 D2: a change refused naming the other feed's sender that holds only a
preliminary result of the sample (never published) said that result "stands there" and that
a final sent here "would be a second copy of it, and is refused", yet that final is stored.
The words now say what is held; and the identifier shared is "the number of its order or
another identifier it was sent under", never the order's alone (it may be a FHIR
identifier)."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.copy_refusals import copy_refusal
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import ingestor
from tests.unit.lab_ingestion.test_fhir_identifiers_in_one_batch import command, database
from tests.unit.lab_ingestion.test_two_feeds_in_one_batch import fhir, hl7

SENDERS = st.frozensets(st.sampled_from(["lab^FHIR", "LIS^HOSP", "lab2^FHIR", "LAB2^F2"]),
                        min_size=1)  # fmt: skip


@given(st.sampled_from(["C", "X", "W", "D"]), SENDERS, st.booleans(),
       st.sampled_from([Channel.MLLP, Channel.HL7_HTTP, Channel.FHIR]))  # fmt: skip
def test_a_change_is_told_what_the_holder_holds(
    status: str, others: frozenset[str], published: bool, channel: Channel
) -> None:
    if status == "X" and channel is Channel.FHIR:
        return  # a FHIR cancelled: review 165's words (``held_elsewhere_reason``)
    refused = copy_refusal(status, others, channel, published=published)
    assert refused.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
    verb = "correct" if status == "C" else "withdraw"
    assert refused.reason.startswith(f"{verb} it through sender "), refused.reason
    assert all(repr(name) in refused.reason for name in sorted(others)[:3])
    assert "its order or another identifier it was sent under" in refused.reason
    assert ("stands there" in refused.reason) is published
    assert ("is refused" in refused.reason) is published
    assert ("preliminary" in refused.reason) is not published


@given(st.sampled_from(["C", "X", "W", "D"]), SENDERS, st.booleans(),
       st.sampled_from([Channel.MLLP, Channel.HL7_HTTP, Channel.FHIR]))  # fmt: skip
def test_a_change_beside_its_own_senders_result_is_told_to_name_its_identifiers(
    status: str, others: frozenset[str], published: bool, channel: Channel
) -> None:
    """Review 250, D2: the sender's own result stored under other identifiers of its is
    never answered "through sender" itself; other holders are still named."""
    if status == "X" and channel is Channel.FHIR:
        return  # a FHIR cancelled: review 165's words (``held_elsewhere_reason``)
    sender = sorted(others)[0]
    refused = copy_refusal(status, others, channel, published=published, sender=sender)
    assert refused.code is RejectionCode.UNKNOWN_CORRECTED_RESULT
    verb = "correct" if status == "C" else "withdraw"
    assert refused.reason.startswith(f"{verb} it under the identifiers it was first sent under")
    assert f"through sender {sender!r}" not in refused.reason, refused.reason
    assert f"this sender's ({sender!r}) own" in refused.reason, refused.reason  # review 165
    rest = sorted(others - {sender})
    assert all(repr(name) in refused.reason for name in rest[:3]), refused.reason
    assert ("holds a result of it too" in refused.reason) is bool(rest)
    assert ("is refused" in refused.reason) is published
    assert ("preliminary" in refused.reason) is not published


async def _x_after_fhir(status: str, *, batched: bool) -> tuple[Any, Any]:
    """The FHIR feed's ``status`` 12 of ORD7, then HL7's X of ORD7; then HL7's final 12."""
    db = database()
    ingest = ingestor(db)
    sent = [fhir("m0", "MRN1", (status, "12"), 0), hl7("m1", "MRN1", [("X", "12")], 1)]
    if batched:
        outcomes = await ingest([command(m) for m in sent])
    else:
        outcomes = [o for m in sent for o in await ingest([command(m)])]
    final = await ingest([command(hl7("m2", "MRN1", [("F", "12")], 2))])
    return outcomes[1], final[0]


def test_an_hl7_x_beside_the_fhir_feeds_preliminary_is_told_it_is_held_there() -> None:
    for batched in (False, True):
        x, final = asyncio.run(_x_after_fhir("P", batched=batched))
        assert isinstance(x, Rejected) or not x.accepted
        reason = str(getattr(x, "reason", x))
        assert "withdraw it through sender 'lab^FHIR'" in reason, reason
        assert "preliminary" in reason and "stands there" not in reason, reason
        assert "is refused" not in reason, reason
        assert final.accepted and final.results == 1  # a final sent next is stored


def test_an_hl7_x_beside_the_fhir_feeds_final_is_told_it_stands_there() -> None:
    for batched in (False, True):
        x, final = asyncio.run(_x_after_fhir("F", batched=batched))
        reason = str(getattr(x, "reason", x))
        assert "withdraw it through sender 'lab^FHIR'" in reason, reason
        assert "stands there" in reason and "is refused" in reason, reason
        assert final.results == 0  # a final sent next is no second copy (here: a duplicate)
