"""Review 226, D1: a commit batch withdrawing a key's head frees the key for its later
results (another patient's result under a shared order, withdrawn earlier in the batch), and
those are compared with the lab's other feed as across batches: the careful path's read takes
the other feed's results for such keys too (``withdrawn_chains.freed_in_batch``), and only
for them: a batch withdrawing nothing, or withdrawing alone, reads nothing more."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from services.lab_ingestion.domain.model import LabMessage, ObservationInput
from services.lab_ingestion.domain.result_status import CANCELLING
from services.lab_ingestion.domain.withdrawn_chains import freed_in_batch
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import AT, CRP

SOURCES = {"hl7": ("LIS", "HOSP", Channel.MLLP), "fhir": ("lab", "FHIR", Channel.FHIR)}
KEYS = ["ORD7", "ORD8"]
STATUSES = ["F", "C", "P", "W", "D", "X"]
SourceKey = tuple[str, str]


def message(sender: str, results: list[tuple[str, str]]) -> LabMessage:
    application, facility, channel = SOURCES[sender]
    observations = tuple(
        ObservationInput(key, CRP, "12", ("mg/L",), status=status, collected_at=AT)
        for key, status in results
    )
    return LabMessage(channel, application, facility, "1", "MRN1", observations)


batches = st.lists(
    st.tuples(
        st.sampled_from(sorted(SOURCES)),
        st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(STATUSES)), min_size=1,
                 max_size=3),
    ),
    max_size=5,
)  # fmt: skip
held = st.sets(st.tuples(st.sampled_from(["LIS^HOSP", "lab^FHIR"]), st.sampled_from(KEYS)))


def found_freed(messages: list[LabMessage], heads: set[SourceKey]) -> set[SourceKey]:
    """The keys a result of the batch finds as a withdrawal earlier in it left them: held at
    the read, their head withdrawn since (what ``finds_no_chain`` then answers for them)."""
    standing, found = set(heads), set()
    for m in messages:
        for o in m.observations:
            key = (m.source, o.result_key)
            if key in heads and key not in standing:
                found.add(key)
            if o.status in CANCELLING:
                standing.discard(key)
    return found


@given(batches, held)
@example([("hl7", [("ORD7", "W")]), ("hl7", [("ORD7", "F")])], {("LIS^HOSP", "ORD7")})
@example([("fhir", [("ORD7", "D"), ("ORD7", "F")])], {("lab^FHIR", "ORD7")})
def test_every_key_a_result_finds_freed_is_read(drawn: list[Any], heads: set[SourceKey]) -> None:
    messages = [message(sender, results) for sender, results in drawn]
    freed = freed_in_batch(messages, heads)
    assert found_freed(messages, heads) <= freed <= heads


@given(batches, held)
def test_a_batch_withdrawing_nothing_or_alone_reads_nothing_more(
    drawn: list[Any], heads: set[SourceKey]
) -> None:
    messages = [message(sender, results) for sender, results in drawn]
    keys = [(m.source, o.result_key) for m in messages for o in m.observations]
    withdrawing = {
        (m.source, o.result_key) for m in messages for o in m.observations
        if o.status in CANCELLING
    }  # fmt: skip
    freed = freed_in_batch(messages, heads)
    assert all(key in withdrawing and keys.count(key) > 1 for key in freed)


def test_another_patients_withdrawal_frees_the_shared_order() -> None:
    """D1's shape: B's W, then A's F under ORD7 (B's final heads it when read)."""
    batch = [message("hl7", [("ORD7", "W")]), message("hl7", [("ORD7", "F")])]
    assert freed_in_batch(batch, {("LIS^HOSP", "ORD7")}) == {("LIS^HOSP", "ORD7")}
    assert freed_in_batch(batch, set()) == frozenset()  # held nothing: read as empty already
    assert freed_in_batch(batch[1:], {("LIS^HOSP", "ORD7")}) == frozenset()
