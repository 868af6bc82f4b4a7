"""Review 70 (mutation testing): what a lab is told when a final result of another sample
arrives under an order that holds one.

Without the other-sample check the message is still rejected (the contents differ), but
the lab is told to "send a changed final result as a correction": followed, that
correction would supersede, and so hide, the earlier sample's value in the subject's
series (chain_refusals._another_sample). The existing test checked only the code."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.test_batch_ingestor import AT, FakeDatabase, ingestor, message


async def test_a_final_result_of_another_sample_is_told_to_use_a_new_order_number() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    (first,) = await ingest([message("1", key="K")])
    assert first.accepted, first
    later = message("2", key="K")
    observation = dataclasses.replace(
        later.message.observations[0], collected_at=AT - timedelta(days=2)
    )
    later = dataclasses.replace(
        later, message=dataclasses.replace(later.message, observations=(observation,))
    )
    (outcome,) = await ingest([later])
    assert outcome.code is RejectionCode.OTHER_SAMPLES_RESULT
    assert "collected at another time" in outcome.reason
    assert "new sample needs an order number of its own" in outcome.reason
    assert not outcome.reason.startswith("send a changed final result as a correction")
    assert len(db.results) == 1
