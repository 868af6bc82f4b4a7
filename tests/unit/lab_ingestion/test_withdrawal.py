"""Whose a message is when its identifier names subjects withdrawn from the trial
(domain.withdrawal): never a stranger's result kept, never a trial result lost unseen, never
a sample that fits two enrolments under one identifier attributed to either."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.records import EarlierResult, EnrolledSubject, WithdrawnSubject
from services.lab_ingestion.domain.withdrawal import subject_with_withdrawn
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.events.lab import Channel
from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

WITHDRAWN = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BEFORE, AFTER = WITHDRAWN - timedelta(days=1), WITHDRAWN + timedelta(hours=6)
CRP = (Coding("1988-5", "http://loinc.org"),)
S1 = WithdrawnSubject(EnrolledSubject("S-1", "CH-01"), WITHDRAWN)
S2 = WithdrawnSubject(EnrolledSubject("S-2", "CH-01"), WITHDRAWN + timedelta(days=30))
ARRIVED = WITHDRAWN + timedelta(days=40)  # after every collection time used here
HEADS = {
    ("LIS^HOSP", "K1"): EarlierResult(uuid.uuid4(), "S-1", "crp", BEFORE),
    ("LIS^HOSP", "K9"): EarlierResult(uuid.uuid4(), "S-3", "crp", AFTER),  # enrolled again
}


def sent(*results: tuple[str, str, datetime | None]) -> LabMessage:
    """A message of results (key, status, collection time)."""
    observations = tuple(
        ObservationInput(key, CRP, "12", ("mg/L",), status=status, collected_at=at)
        for key, status, at in results
    )
    return LabMessage(Channel.MLLP, "LIS", "HOSP", "C-1", "MRN1", observations)


def whose(
    message: LabMessage,
    active: str | None = None,
    withdrawn: tuple[WithdrawnSubject, ...] = (S1,),
    site: str | None = None,
) -> str | Rejected | None:
    return subject_with_withdrawn(message, active, withdrawn, HEADS, site, received_at=ARRIVED)


@pytest.mark.parametrize(
    ("message", "active", "withdrawn", "expected"),
    [
        # corrections and cancellations of a withdrawn subject's result: theirs
        (sent(("K1", "C", BEFORE)), None, (S1,), "S-1"),
        (sent(("K1", "X", AFTER)), None, (S1,), "S-1"),
        (sent(("K1", "D", AFTER)), None, (S1, S2), "S-1"),  # two withdrawn: the owner's
        (sent(("K1", "C", BEFORE)), "S-3", (S1,), "S-1"),  # enrolled again as S-3
        # a correction is of a sample: one taken after the withdrawal is no trial result
        (sent(("K1", "C", AFTER)), None, (S1,), RejectionCode.SUBJECT_WITHDRAWN),
        (sent(("K1", "C", BEFORE), ("K2", "F", AFTER)), None, (S1,),
         RejectionCode.SUBJECT_WITHDRAWN),
        # new results: collected before the withdrawal, theirs; after it, nobody's
        (sent(("K2", "F", BEFORE)), None, (S1,), "S-1"),
        (sent(("K2", "P", BEFORE)), None, (S1,), "S-1"),
        (sent(("K2", "F", AFTER)), None, (S1,), None),
        (sent(("K2", "F", BEFORE), ("K3", "F", AFTER)), None, (S1,),
         RejectionCode.SUBJECT_WITHDRAWN),
        # fits two withdrawn subjects' time in the trial: cannot be told
        (sent(("K2", "F", BEFORE)), None, (S1, S2), RejectionCode.SUBJECT_WITHDRAWN),
        (sent(("K2", "F", AFTER)), None, (S1, S2), "S-2"),
        # enrolled again as S-3: a new result is S-3's, unless S-1's time fits
        (sent(("K2", "F", AFTER)), "S-3", (S1,), "S-3"),
        (sent(("K2", "F", BEFORE)), "S-3", (S1,), RejectionCode.SUBJECT_WITHDRAWN),
        # ... and a correction riding along tells no more: the sample still fits both
        (sent(("K9", "C", AFTER), ("K2", "F", BEFORE)), "S-3", (S1,),
         RejectionCode.SUBJECT_WITHDRAWN),
        (sent(("K9", "X", AFTER), ("K2", "F", BEFORE)), "S-3", (S1,),
         RejectionCode.SUBJECT_WITHDRAWN),
        (sent(("K1", "C", BEFORE), ("K2", "F", BEFORE)), "S-3", (S1,),
         RejectionCode.SUBJECT_WITHDRAWN),
        (sent(("K1", "C", BEFORE), ("K2", "F", BEFORE)), None, (S1, S2),
         RejectionCode.SUBJECT_WITHDRAWN),
        (sent(("K9", "C", AFTER)), "S-3", (S1,), "S-3"),
        (sent(("K9", "C", AFTER), ("K2", "F", AFTER)), "S-3", (S1,), "S-3"),
        (sent(("K1", "C", BEFORE), ("K2", "F", BEFORE)), None, (S1,), "S-1"),
        # one sample of a message fitting two enrolments is enough to refuse it
        (sent(("K2", "F", AFTER), ("K3", "F", BEFORE)), "S-3", (S1,),
         RejectionCode.SUBJECT_WITHDRAWN),
        (sent(("K2", "F", AFTER), ("K3", "F", BEFORE)), None, (S1, S2),
         RejectionCode.SUBJECT_WITHDRAWN),
        # a correction of no stored result, of a sample of theirs: planning refuses it, kept
        (sent(("K7", "C", BEFORE)), None, (S1,), "S-1"),
    ],
)  # fmt: skip
def test_whose_a_message_about_a_withdrawn_subject_is(
    message: LabMessage,
    active: str | None,
    withdrawn: tuple[WithdrawnSubject, ...],
    expected: str | RejectionCode | None,
) -> None:
    chosen = whose(message, active, withdrawn)
    if isinstance(expected, RejectionCode):
        assert isinstance(chosen, Rejected) and chosen.code is expected
    else:
        assert chosen == expected


def test_a_withdrawn_subject_of_another_site_is_not_considered() -> None:
    message = sent(("K2", "F", BEFORE))
    assert whose(message, site="CH-02") is None
    assert whose(message, site="CH-01") == "S-1"


@pytest.mark.parametrize("active", [None, "S-3"])
@pytest.mark.parametrize(
    ("collected", "code"),
    [
        (None, RejectionCode.MISSING_COLLECTION_TIME),  # unreadable: no zone, no offset
        (BEFORE.replace(year=2052), RejectionCode.IMPLAUSIBLE_TIME),  # a typo of the year
        (BEFORE.replace(year=1999), RejectionCode.IMPLAUSIBLE_TIME),
    ],
)
def test_an_unusable_collection_time_is_rejected_as_planning_rejects_it(
    collected: datetime | None, code: RejectionCode, active: str | None
) -> None:
    """Whose it is cannot be told by it: never taken for "after the withdrawal" (nobody's,
    discarded unseen), even beside a time that could be told."""
    for message in (sent(("K2", "F", collected)), sent(("K2", "F", AFTER), ("K3", "F", collected))):
        chosen = whose(message, active)
        assert isinstance(chosen, Rejected) and chosen.code is code


def test_a_cancellation_needs_no_collection_time() -> None:
    assert whose(sent(("K1", "X", None))) == "S-1"


# ---- property: a message is only ever the one enrolment's its samples all fit -------------

KEYS = ("K1", "K2", "K9", "K7")  # S-1's, nobody's, S-3's, and (in heads below) S-2's
HEADS_OF = {**HEADS, ("LIS^HOSP", "K7"): EarlierResult(uuid.uuid4(), "S-2", "crp", BEFORE)}
times = st.sampled_from(
    [None, BEFORE, WITHDRAWN, AFTER, WITHDRAWN + timedelta(days=31), ARRIVED.replace(year=2052)]
)
observations = st.lists(
    st.tuples(st.sampled_from(KEYS), st.sampled_from(["F", "P", "C", "X", "D"]), times),
    min_size=1, max_size=4,
)  # fmt: skip
enrolments = st.tuples(st.sampled_from([None, "S-3"]), st.sampled_from([(S1,), (S2,), (S1, S2)]))


def fitting(collected_at: datetime, active: str | None, withdrawn: tuple[WithdrawnSubject, ...]
            ) -> set[str]:  # fmt: skip
    """The enrolments whose time in the trial contains the moment: the enrolled subject's
    (its start is not known: any moment), a withdrawn subject's until the withdrawal."""
    return {w.subject.subject_id for w in withdrawn if collected_at <= w.withdrawn_at} | (
        {active} if active else set()
    )


@settings(max_examples=500, deadline=None)
@given(observations, enrolments)
def test_a_message_is_only_ever_attributed_to_the_one_enrolment_its_samples_fit(
    results: list[tuple[str, str, datetime | None]],
    enrolled: tuple[str | None, tuple[WithdrawnSubject, ...]],
) -> None:
    """No message is attributed to a subject unless every new result of it (a sample: no
    correction or cancellation of a stored result) was collected in that subject's time in
    the trial and in no other enrolment's; none is discarded (None) that holds a sample or a
    result of an enrolment; an unusable collection time is always rejected."""
    active, withdrawn = enrolled
    message = sent(*results)
    chosen = subject_with_withdrawn(message, active, withdrawn, HEADS_OF, None, received_at=ARRIVED)
    stored = {key: head.subject_id for (_, key), head in HEADS_OF.items()}
    samples = [at for key, status, at in results
               if status in "FP" or (status == "C" and key not in stored)]  # fmt: skip
    earliest = datetime(2000, 1, 1, tzinfo=UTC)
    unusable = [at for _, status, at in results if status in "FPC"
                and (at is None or not earliest <= at <= ARRIVED)]  # fmt: skip
    if unusable:
        assert isinstance(chosen, Rejected), chosen
        return
    if isinstance(chosen, str):
        for at in samples:
            assert at is not None and fitting(at, active, withdrawn) == {chosen}, (chosen, at)
        dates = {w.subject.subject_id: w.withdrawn_at for w in withdrawn}
        if chosen in dates:  # a correction of theirs is of a sample of theirs too (one of
            # another's result is refused by planning)
            theirs = [at for key, status, at in results if status in "FP"
                      or (status == "C" and stored.get(key, chosen) == chosen)]  # fmt: skip
            assert all(at is not None and at <= dates[chosen] for at in theirs), theirs
    if chosen is None:
        assert all(at is not None and not fitting(at, active, withdrawn) for at in samples)
        owners = {stored[key] for key, status, _ in results if status in "CXD" and key in stored}
        enrolments = {w.subject.subject_id for w in withdrawn} | {active}
        assert not owners & enrolments, owners


# ---- through the batch, as parsed from HL7 (the reviewer's scenarios) ---------------------


def oru(control_id: str, *results: tuple[str, str, str], msh7: str = "20261230090000+0000"
        ) -> IngestLabMessage:  # fmt: skip
    """An ORU^R01 from LIS^HOSP about MRN1 of results (order number, status, OBX-14), parsed
    as the service parses it, arriving at ``ARRIVED``."""
    segments = [f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|{msh7}||ORU^R01|{control_id}|P|2.5.1",
                "PID|1||MRN1^^^HOSP^MR"]  # fmt: skip
    for n, (order, status, collected) in enumerate(results, 1):
        segments += [
            f"OBR|{n}||{order}|1988-5^CRP^LN",
            f"OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||{status}|||{collected}",
        ]
    parsed, _ = parse_oru("\r".join(segments), identify=lambda number: f"h({number})")
    return IngestLabMessage(parsed, lambda: "", ARRIVED)


def enrolled_again() -> FakeDatabase:
    """MRN1 enrolled as S-1, withdrawn at WITHDRAWN, enrolled again as S-3."""
    return FakeDatabase(enrolled={"h(MRN1)": "S-3"}, withdrawn={"h(MRN1)": S1})


async def test_a_correction_riding_along_never_gives_an_earlier_enrolments_sample_away() -> None:
    """A sample collected before S-1's withdrawal fits S-1's and S-3's enrolment: rejected
    alone, and rejected beside a correction of S-3's result (never stored as S-3's)."""
    db = enrolled_again()
    ingest = ingestor(db)
    (first,) = await ingest([oru("M1", ("O9", "F", "202612010800+0000"))])
    assert first.results == 1
    (alone,) = await ingest([oru("M2", ("O2", "F", "202611190800+0000"))])
    (riding,) = await ingest(
        [oru("M3", ("O9", "C", "202612010800+0000"), ("O2", "F", "202611190800+0000"))]
    )
    assert alone.code is riding.code is RejectionCode.SUBJECT_WITHDRAWN
    assert [(r.subject_id, r.status) for r in db.results] == [("S-3", "F")]
    assert [topic for topic, _ in db.events] == [LAB_RESULTS, LAB_REJECTED, LAB_REJECTED]


@pytest.mark.parametrize(
    ("collected", "msh7", "code"),
    [
        # no offset, no zone for the sender, MSH-7 without one either: no collection time
        ("202611190800", "20261230090000", RejectionCode.MISSING_COLLECTION_TIME),
        ("205211190800+0000", "20261230090000+0000", RejectionCode.IMPLAUSIBLE_TIME),
    ],
)
@pytest.mark.parametrize("who", ["enrolled", "withdrawn", "enrolled again"])
async def test_an_unusable_collection_time_is_rejected_whoever_the_identifier_names(
    collected: str, msh7: str, code: RejectionCode, who: str
) -> None:
    """The same AE for a withdrawn subject as for an enrolled one: never taken for a sample
    after the withdrawal and discarded unseen."""
    db = {
        "enrolled": FakeDatabase(enrolled={"h(MRN1)": "S-1"}),
        "withdrawn": FakeDatabase(withdrawn={"h(MRN1)": S1}),
        "enrolled again": enrolled_again(),
    }[who]
    (outcome,) = await ingestor(db)([oru("M1", ("O2", "F", collected), msh7=msh7)])
    assert outcome.code is code
    assert db.results == [] and [topic for topic, _ in db.events] == [LAB_REJECTED]
