"""Which observations of a message the trial keeps (domain.planning)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters, normalise
from services.lab_ingestion.domain.planning import (
    PlannedResult,
    check_earlier_results,
    content_of,
    needs_earlier_result,
    plan_results,
)
from services.lab_ingestion.domain.records import Content, EarlierResult
from services.lab_ingestion.domain.sample_times import (
    CLOCK_SKEW,
    in_site_time,
    plausible_report_times,
)
from shared.contracts.events.lab import Channel

AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
RECEIVED = AT + timedelta(hours=3)
CRP = (Coding("1988-5", "http://loinc.org"),)
GLUCOSE = (Coding("2345-7", "http://loinc.org"),)


def observation(codes: tuple[Coding, ...] = CRP, status: str = "F") -> ObservationInput:
    return ObservationInput("K", codes, "12", ("mg/L",), status=status, collected_at=AT)


def message(*observations: ObservationInput) -> LabMessage:
    return LabMessage(Channel.MLLP, "LIS", "HOSP", "1", "MRN1", observations)


def test_other_analytes_are_ignored_and_trial_ones_normalised() -> None:
    planned = plan_results(message(observation(GLUCOSE), observation()), UnitParameters(), RECEIVED)
    assert not isinstance(planned, Rejected)
    assert [(o.codes, n is not None and n.value) for o, n in planned] == [(CRP, 12.0)]


@pytest.mark.parametrize("status", ["X", "d", " D ", "W"])
def test_a_cancellation_is_planned_without_a_value(status: str) -> None:
    planned = plan_results(message(observation(status=status)), UnitParameters(), RECEIVED)
    assert not isinstance(planned, Rejected)
    assert planned[0][1] is None


def test_an_unknown_status_rejects_the_message() -> None:
    planned = plan_results(message(observation(status="Q")), UnitParameters(), RECEIVED)
    assert isinstance(planned, Rejected)
    assert planned.code is RejectionCode.UNKNOWN_STATUS


def test_a_message_without_trial_results_is_rejected() -> None:
    planned = plan_results(message(observation(GLUCOSE)), UnitParameters(), RECEIVED)
    assert isinstance(planned, Rejected)
    assert planned.code is RejectionCode.UNKNOWN_ANALYTE


@pytest.mark.parametrize(
    ("collected", "reported"),
    [
        (datetime(1, 1, 1, 0, 30, tzinfo=UTC), None),  # would not even fit PostgreSQL's UTC
        (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), None),
        (RECEIVED + CLOCK_SKEW + timedelta(minutes=1), None),  # a sample from the future
        (datetime(2062, 11, 20, 7, 15, tzinfo=UTC), None),  # a typo in the year
    ],
)
def test_a_time_outside_the_plausible_window_rejects_the_message(
    collected: datetime, reported: datetime | None
) -> None:
    implausible = replace(observation(), collected_at=collected, reported_at=reported)
    planned = plan_results(message(implausible), UnitParameters(), RECEIVED)
    assert isinstance(planned, Rejected)
    assert planned.code is RejectionCode.IMPLAUSIBLE_TIME
    assert "time zone" in planned.reason


def test_a_cancellation_withdraws_a_result_whatever_time_it_repeats() -> None:
    """A result stored with a wrong date (before this check) must still be cancellable."""
    future = replace(observation(status="D"), collected_at=RECEIVED + timedelta(days=30))
    planned = plan_results(message(future), UnitParameters(), RECEIVED)
    assert not isinstance(planned, Rejected)
    assert planned[0][1] is None


def test_a_sample_within_the_clock_skew_is_accepted() -> None:
    skewed = replace(observation(), collected_at=RECEIVED + CLOCK_SKEW, reported_at=RECEIVED)
    planned = plan_results(message(skewed), UnitParameters(), RECEIVED)
    assert not isinstance(planned, Rejected)


ZURICH = ZoneInfo("Europe/Zurich")


def test_a_report_time_without_offset_is_read_in_the_senders_zone_as_the_collection_time() -> None:
    """Drawn 22:30 and reported 23:40 local on 24 Oct (summer time, +02:00), sent after the
    change: MSH-7's +01:00 put both an hour late; the zone places both right."""
    sent = replace(
        observation(),
        collected_at=datetime(2026, 10, 24, 21, 30, tzinfo=UTC),  # as MSH-7's +0100 read them
        reported_at=datetime(2026, 10, 24, 22, 40, tzinfo=UTC),
        collected_local=datetime(2026, 10, 24, 22, 30),
        reported_local=datetime(2026, 10, 24, 23, 40),
    )
    sited = in_site_time(message(sent), ZURICH)
    assert not isinstance(sited, Rejected)
    (read,) = sited.observations
    assert read.collected_at == datetime(2026, 10, 24, 20, 30, tzinfo=UTC)
    assert read.reported_at == datetime(2026, 10, 24, 21, 40, tzinfo=UTC)


def test_a_report_time_alone_without_offset_is_read_in_the_senders_zone() -> None:
    """The collection time has its offset; the report time (stored, published) has none:
    read in the zone even so, or MSH-7's offset (UTC) put a Tokyo report 9 hours late."""
    tokyo = ZoneInfo("Asia/Tokyo")
    sent = replace(
        observation(),
        reported_at=datetime(2026, 11, 20, 18, 30, tzinfo=UTC),  # as MSH-7's +0000 read it
        reported_local=datetime(2026, 11, 20, 18, 30),
    )
    sited = in_site_time(message(sent), tokyo)
    assert not isinstance(sited, Rejected)
    (read,) = sited.observations
    assert read.reported_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert read.collected_at == AT
    arrived = AT + timedelta(hours=3)
    assert plausible_report_times(sited, arrived) is sited
    as_msh7_read_it = plausible_report_times(message(sent), arrived)  # in the future: dropped
    assert as_msh7_read_it.observations[0].reported_at is None


def test_sited_without_local_times_the_message_is_itself() -> None:
    sent = message(replace(observation(), reported_at=AT))
    assert in_site_time(sent, ZURICH) is sent


@pytest.mark.parametrize("codes_status", [(GLUCOSE, "F"), (CRP, "D"), (CRP, "X")])
def test_a_time_a_clock_change_repeats_is_read_as_sent_where_nothing_uses_it(
    codes_status: tuple[tuple[Coding, ...], str],
) -> None:
    """An analyte the trial ignores, or a cancellation (it withdraws its result whatever
    time it repeats): refusing the message for that time refused its trial results, or
    left a result the lab withdrew published. The CRP beside it is read in the zone."""
    codes, status = codes_status
    ambiguous = datetime(2024, 10, 27, 2, 30)
    unused = replace(observation(codes, status), collected_local=ambiguous)
    used = replace(observation(), collected_local=datetime(2024, 10, 27, 1, 30))
    sited = in_site_time(message(unused, used), ZURICH)
    assert not isinstance(sited, Rejected), sited
    assert sited.observations[0] == unused
    assert sited.observations[1].collected_at == datetime(2024, 10, 26, 23, 30, tzinfo=UTC)
    # the same time in a trial result still rejects it
    refused = in_site_time(message(replace(observation(), collected_local=ambiguous)), ZURICH)
    assert isinstance(refused, Rejected) and refused.observation == 0


@pytest.mark.parametrize(
    ("statuses", "needed"),
    [(("F",), False), (("P", "F"), False), (("F", "c"), True), (("X",), True), (("D",), True)],
)
def test_corrections_and_cancellations_need_the_earlier_result(
    statuses: tuple[str, ...], needed: bool
) -> None:
    observations = [observation(status=s) for s in statuses]
    assert needs_earlier_result(message(*observations)) is needed


# --- a final result never replaces a final or corrected one (HL7 table 0085) ---------------

STORED = uuid.UUID(int=7)


def crp(value: str, status: str = "F") -> ObservationInput:
    return ObservationInput("K", CRP, value, ("mg/L",), status=status, collected_at=AT)


def check(
    *observations: ObservationInput,
    head: bool = False,
    said: str | None = None,
    said_before: tuple[str, ...] = (),
) -> list[PlannedResult] | Rejected:
    """check_earlier_results for one message of ``observations`` of subject S-1, under a key
    that holds a stored final result (``head``) whose content is known when ``said``, and
    whose chain's earlier versions said ``said_before``."""
    lab = message(*observations)
    planned = plan_results(lab, UnitParameters(), RECEIVED)
    assert not isinstance(planned, Rejected)
    key = (lab.source, "K")
    superseded = frozenset(content(value) for value in said_before)
    heads = {key: EarlierResult(STORED, "S-1", "crp", AT, None, superseded)} if head else {}
    contents = {key: content(said)} if said is not None else {}
    return check_earlier_results(lab, planned, "S-1", heads, contents=contents)


def content(value: str) -> Content:
    normalised = normalise(crp(value), UnitParameters())
    assert isinstance(normalised, NormalisedResult)
    return content_of(normalised, AT)


def test_a_delayed_copy_of_a_corrected_version_is_a_duplicate_left_out() -> None:
    """F 40 corrected to 4: a later F 40 restates the original, and changes nothing."""
    assert check(crp("40"), head=True, said="4", said_before=("40",)) == []
    changed = check(crp("41"), head=True, said="4", said_before=("40",))
    assert isinstance(changed, Rejected) and changed.code is RejectionCode.OTHER_SAMPLES_RESULT
    # a correction saying it again: a late copy or a correction back, which report times
    # alone tell (review 171: ``test_correction_resends``); without them, refused
    corrected = check(crp("40", "C"), head=True, said="4", said_before=("40",))
    assert isinstance(corrected, Rejected)
    assert corrected.code is RejectionCode.AMBIGUOUS_VERSION


def test_a_final_result_restating_the_standing_one_is_a_duplicate_left_out() -> None:
    assert check(crp("40.0"), head=True, said="40") == []


@pytest.mark.parametrize("said", ["4", None])  # another value; a stored head's unread content
def test_a_final_result_changing_the_standing_one_rejects_the_message(said: str | None) -> None:
    checked = check(crp("40"), head=True, said=said)
    assert isinstance(checked, Rejected)
    assert checked.code is RejectionCode.OTHER_SAMPLES_RESULT
    assert "as a correction (OBX-11 C" in checked.reason


def test_a_final_result_saying_the_same_in_another_range_or_flag_is_no_restatement() -> None:
    for changed in (
        replace(crp("40"), reference_range="0-10"),
        replace(crp("40"), abnormal_flag="H"),
    ):
        checked = check(changed, head=True, said="40")
        assert isinstance(checked, Rejected), changed


def test_a_correction_of_the_standing_result_is_kept() -> None:
    checked = check(crp("4", "C"), head=True, said="40")
    assert not isinstance(checked, Rejected) and len(checked) == 1


def test_two_results_under_one_key_that_disagree_reject_their_message() -> None:
    checked = check(crp("40"), crp("4"))
    assert isinstance(checked, Rejected)
    assert checked.code is RejectionCode.OTHER_SAMPLES_RESULT
    assert "sub-id (OBX-4)" in checked.reason
    # the original final result after its correction in one message: no restatement either
    assert isinstance(check(crp("40"), crp("4", "C"), crp("40")), Rejected)


def test_a_result_repeated_in_its_message_is_kept_once() -> None:
    checked = check(crp("40"), crp("40"))
    assert not isinstance(checked, Rejected)
    assert [o.value for o, _ in checked] == ["40"]


def test_a_final_result_after_a_preliminary_one_alone_is_a_new_final_result() -> None:
    checked = check(crp("30", "P"), crp("40"))
    assert not isinstance(checked, Rejected)
    assert [o.status for o, _ in checked] == ["P", "F"]


def test_a_final_result_after_a_cancellation_in_its_message_starts_a_new_chain() -> None:
    checked = check(crp("", "D"), crp("4"), head=True, said="40")
    assert not isinstance(checked, Rejected)
    assert [o.status for o, _ in checked] == ["D", "F"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("FCP"), st.sampled_from(["4", "40"])), min_size=1, max_size=6
    ),
    st.sampled_from([None, "4", "40", "unread"]),
)
def test_a_final_result_is_kept_only_where_its_key_holds_no_final_or_corrected_one(
    results: list[tuple[str, str]], stored: str | None
) -> None:
    """Whatever the message's F, C and P results under one key (and its stored head): a
    final result is kept only as the chain's first, and one left out says what the chain's
    head says at that point; a correction is left out only when it says again what one of
    the message's own results under the key said just before (one correction, said twice)."""
    observations = [crp(value, status) for status, value in results]
    said = None if stored in (None, "unread") else stored
    checked = check(*observations, head=stored is not None, said=said)
    if isinstance(checked, Rejected):
        return
    standing = said if stored is not None else None  # None: no final or corrected result
    unread, own = stored == "unread", False
    kept = iter(checked)
    for observation in observations:
        if observation.status == "F" and (standing is not None or unread):
            assert not unread and observation.value == standing  # a duplicate, left out
            continue
        if observation.status == "C" and own and observation.value == standing:
            continue  # the message's own correction, said again
        assert next(kept)[0] is observation
        if observation.status in "FC":
            standing, unread, own = observation.value, False, True
    assert next(kept, None) is None


def test_a_rejection_names_the_observation_at_fault() -> None:
    """The message's own position (0-based, non-trial analytes counted): a JSON 422 says
    ``results[i]``."""
    bad_unit = replace(observation(), unit=("furlongs",))
    planned = plan_results(
        message(observation(GLUCOSE), observation(), bad_unit), UnitParameters(), RECEIVED
    )
    assert isinstance(planned, Rejected)
    assert (planned.code, planned.observation) == (RejectionCode.UNCONVERTIBLE_UNIT, 2)
    unknown_status = plan_results(
        message(observation(), observation(status="Q")), UnitParameters(), RECEIVED
    )
    assert isinstance(unknown_status, Rejected) and unknown_status.observation == 1
    late = replace(observation(), collected_at=RECEIVED + CLOCK_SKEW + timedelta(hours=1))
    implausible = plan_results(message(observation(GLUCOSE), late), UnitParameters(), RECEIVED)
    assert isinstance(implausible, Rejected) and implausible.observation == 1
    # against the stored chain: the second result changes the standing final one
    other = replace(crp("41"), result_key="K2")
    changed = check(other, crp("40"), head=True, said="4")
    assert isinstance(changed, Rejected) and changed.observation == 1
    # a rejection of the whole message names none
    none_kept = plan_results(message(observation(GLUCOSE)), UnitParameters(), RECEIVED)
    assert isinstance(none_kept, Rejected) and none_kept.observation is None
