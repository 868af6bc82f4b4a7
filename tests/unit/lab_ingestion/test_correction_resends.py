"""A correction resent under a new message id (review 171): a late copy of an older
correction never replaces the newer one, and a copy of the standing correction publishes
nothing; the report time tells a copy from a correction back to an earlier value, and without
report times a restated earlier version is refused (``correction_resends``)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.domain.chain_checks import check_earlier_results
from services.lab_ingestion.domain.correction_resends import (
    REPORTED_BEFORE,
    RESTATED_VERSION,
    issued_before,
    resent_correction,
)
from services.lab_ingestion.domain.model import (
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters, normalise
from services.lab_ingestion.domain.planning import content_of, plan_results
from services.lab_ingestion.domain.reason_wording import for_fhir, for_json, speaks_hl7
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.domain.report_fields import ReportField
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import AT, CRP, FakeDatabase, ingestor
from tests.unit.lab_ingestion.test_withdrawn_resends import standing

ACCEPTED = (True, False, None)
DUPLICATE = (True, True, None)
REFUSED = (False, False, RejectionCode.AMBIGUOUS_VERSION)

Obs = tuple[str, str, int | None]  # status, value (mg/L), minutes after AT it was reported


def sent(
    control_id: str,
    *observations: Obs,
    channel: Channel = Channel.MLLP,
    field: ReportField | None = None,
) -> IngestLabMessage:
    """``field``: the field each report time was read from (None: not known, as a result
    stored before migration 0032)."""
    lab = LabMessage(
        channel, "LIS", "HOSP", control_id, "MRN1",
        tuple(
            ObservationInput(
                "K", CRP, value, ("mg/L",), status=status, collected_at=AT,
                reported_at=None if minutes is None else AT + timedelta(minutes=minutes),
                report_field=field,
            )
            for status, value, minutes in observations
        ),
    )  # fmt: skip
    return IngestLabMessage(lab, lambda: "", AT)


async def run(
    messages: list[IngestLabMessage], one_batch: bool
) -> tuple[list[tuple[bool, bool, RejectionCode | None]], FakeDatabase]:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    outcomes: list[IngestOutcome] = []
    for batch in [messages] if one_batch else [[m] for m in messages]:
        outcomes += await ingest(batch)
    return [(o.accepted, o.duplicate, o.code) for o in outcomes], db


def values(db: FakeDatabase) -> list[float | None]:
    return [value for _, _, value in standing(db)]


def published(db: FakeDatabase) -> int:
    return sum(e.event_type == "LabResultRecorded" for _, e in db.events)


F50, C51, C52 = ("F", "50", 0), ("C", "51", 10), ("C", "52", 20)


@pytest.mark.parametrize("one_batch", [False, True])
@pytest.mark.parametrize("channel", [Channel.MLLP, Channel.JSON])
async def test_a_late_copy_of_an_older_correction_is_a_duplicate(
    one_batch: bool, channel: Channel
) -> None:
    """F 50, C 51, C 52, then C 51 again under a new id with its report time: a duplicate,
    52 stands, nothing published; one reported after C 51 but before C 52 is no copy of
    C 51 and no correction back: refused (review 177), 52 stands."""
    messages = [sent(str(n), obs, channel=channel) for n, obs in enumerate((F50, C51, C52))]
    messages += [sent("3", C51, channel=channel), sent("4", ("C", "51", 15), channel=channel)]
    answers, db = await run(messages, one_batch)
    assert answers == [ACCEPTED] * 3 + [DUPLICATE, REFUSED]
    assert values(db) == [52.0] and published(db) == 3


@pytest.mark.parametrize("one_batch", [False, True])
async def test_a_correction_back_reported_later_is_applied(one_batch: bool) -> None:
    """F 50, C 51, C 52, C 51 reported after C 52: a correction back to 51; a late copy of C
    52 is then a copy of a replaced version again, and C 51's own copy a duplicate."""
    messages = [sent("1", F50), sent("2", C51), sent("3", C52), sent("4", ("C", "51", 30))]
    messages += [sent("5", C52), sent("6", C51), sent("7", ("C", "51", 30))]
    answers, db = await run(messages, one_batch)
    assert answers == [ACCEPTED] * 4 + [DUPLICATE] * 3
    assert values(db) == [51.0] and published(db) == 4


@pytest.mark.parametrize("one_batch", [False, True])
async def test_the_standing_correction_resent_is_a_duplicate_only_with_report_times(
    one_batch: bool,
) -> None:
    """C 51's copy with its report time: a duplicate. Without report times on both, a
    correction restating the standing result is stored and published as it always was (it
    may change what a result's content leaves out); reported later, it is a new correction."""
    for resent, answer in (
        (C51, DUPLICATE), (("C", "51", None), ACCEPTED), (("C", "51", 11), ACCEPTED),
    ):  # fmt: skip
        answers, db = await run([sent("1", F50), sent("2", C51), sent("3", resent)], one_batch)
        assert answers == [ACCEPTED, ACCEPTED, answer], resent
        assert published(db) == (2 if answer == DUPLICATE else 3)
    answers, db = await run([sent("1", F50), sent("2", ("C", "51", None)), sent("3", C51)], False)
    assert answers == [ACCEPTED] * 3  # the standing correction's report time is not known


@pytest.mark.parametrize("one_batch", [False, True])
@pytest.mark.parametrize(
    "resent",
    [("C", "51", None), ("C", "51", 15), ("C", "50", None)],
    ids=["no report time", "standing one's unknown", "the original's value"],
)
async def test_an_older_version_that_report_times_cannot_tell_is_refused(
    one_batch: bool, resent: Obs
) -> None:
    """F 50, C 51, C 52 without report times, then an older value: a late copy or a
    correction back cannot be told apart, and it is refused (never applied)."""
    messages = [sent("1", ("F", "50", None)), sent("2", ("C", "51", None))]
    messages += [sent("3", ("C", "52", None)), sent("4", resent)]
    answers, db = await run(messages, one_batch)
    assert answers == [ACCEPTED] * 3 + [REFUSED]
    assert values(db) == [52.0] and published(db) == 3


@pytest.mark.parametrize("one_batch", [False, True])
async def test_results_under_one_key_of_one_message_are_as_before(one_batch: bool) -> None:
    """Within one message nothing changed: F 50, C 51, C 50 is a correction back, and one
    correction said twice is one."""
    messages = [sent("1", ("F", "50", None), ("C", "51", None), ("C", "50", None))]
    messages += [sent("2", ("C", "53", None), ("C", "53", None))]
    answers, db = await run(messages, one_batch)
    assert answers == [ACCEPTED, ACCEPTED]
    assert values(db) == [53.0] and published(db) == 4


@pytest.mark.parametrize("one_batch", [False, True])
@pytest.mark.parametrize(
    ("chain", "correction", "final_at", "corrected_at"),
    [
        (ReportField.OBR_22, ReportField.OBX_19, 30, 0),
        (ReportField.OBX_19, ReportField.OBR_22, 0, 30),
    ],
)
async def test_a_correction_timed_by_another_field_is_applied(
    one_batch: bool, chain: ReportField, correction: ReportField, final_at: int, corrected_at: int
) -> None:
    """Fixer 178: F 50 released at 10:00 (OBR-22), then C 55 from a system that leaves
    OBR-22 empty, timed by OBX-19's 09:30: an analysis before a release orders nothing, and
    the correction of the final is applied (it was refused as reported before F 50), as is
    the other way round (a release after the final's analysis). Its copy is then a duplicate
    (same field, same time); C 50 back timed by the final's field at another time than the
    final's is no copy of F 50, and orders nothing against C 55: refused."""
    messages = [
        sent("1", ("F", "50", final_at), field=chain),
        sent("2", ("C", "55", corrected_at), field=correction),
    ]
    messages += [
        sent("3", ("C", "55", corrected_at), field=correction),
        sent("4", ("C", "50", 20), field=chain),
    ]
    answers, db = await run(messages, one_batch)
    assert answers == [ACCEPTED, ACCEPTED, DUPLICATE, REFUSED]
    assert values(db) == [55.0] and published(db) == 2
    assert [r.report_field for r in db.results] == [chain, correction]


def test_a_fhir_version_is_not_asked() -> None:
    """A FHIR version's copy is known by its id (made of its content and issued time): a
    correction restating an earlier version under a new one is applied as before."""
    observation = ObservationInput("K", CRP, "50", ("mg/L",), status="C", collected_at=AT)
    normalised = normalise(observation, UnitParameters())
    assert isinstance(normalised, NormalisedResult)
    head = EarlierResult(
        uuid.uuid4(), "S-1", "crp", AT, None, frozenset({content_of(normalised, AT)})
    )
    hl7 = LabMessage(Channel.MLLP, "LIS", "HOSP", "v", "MRN1", (observation,))
    for lab, refused in ((hl7, True), (replace(hl7, control_id_basis="basis"), False)):
        planned = plan_results(lab, UnitParameters(), AT)
        assert not isinstance(planned, Rejected)
        checked = check_earlier_results(lab, planned, "S-1", {("LIS^HOSP", "K"): head})
        assert isinstance(checked, Rejected) is refused, checked


def test_the_refusal_says_why_and_how_in_each_channels_words() -> None:
    # the instruction first (MSA-3 shows 80 characters)
    assert RESTATED_VERSION.startswith("correct back to an older value with a report time")
    assert "late resend" in RESTATED_VERSION and "OBR-22" in RESTATED_VERSION
    for worded in (for_json(RESTATED_VERSION), for_fhir(RESTATED_VERSION)):
        assert not speaks_hl7(worded), worded
    assert "a report time (reported_at) after the standing" in for_json(RESTATED_VERSION)
    assert REPORTED_BEFORE.startswith("send the newest version again")
    assert "OBR-22" in REPORTED_BEFORE and not speaks_hl7(for_json(REPORTED_BEFORE))


# --- the rule alone ------------------------------------------------------------------------

T = datetime(2026, 11, 20, 9)
A, B, C = ("a",), ("b",), ("c",)


def _head(
    reported: datetime | None, field: ReportField | None = None, **reports: datetime
) -> EarlierResult:
    """A chain standing at C (reported at ``reported`` from ``field``), which said A and B
    before (at ``reports``' times, from the same field)."""
    said = {"a": A, "b": B}
    return EarlierResult(
        uuid.uuid4(), "S-1", "crp", T, C, frozenset({A, B}), reported,
        frozenset((said[name], at, field) for name, at in reports.items()), field, "C",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("head", "content", "reported", "verdict"),
    [
        (_head(T), C, T, True),  # the standing one's copy
        (_head(T), C, T - timedelta(hours=1), True),  # an older copy of what stands
        (_head(T), C, T + timedelta(hours=1), False),  # a new correction saying it again
        (_head(T), C, None, False),  # no report time: stored, as always
        (_head(None), C, T, False),
        # a new value without a report time over a timed standing correction: which is
        # newer cannot be told (review 197: C 51 untimed stood over C 52 of 11:00)
        (_head(T), ("d",), None, "refused"),
        (_head(None), ("d",), None, False),  # over an untimed chain: a new value, applied
        (_head(T)._replace(status="F"), ("d",), None, False),  # correcting the final
        (_head(T, a=T - timedelta(hours=2)), A, T - timedelta(hours=2), True),  # A's copy
        (_head(None, a=T - timedelta(hours=2)), A, T - timedelta(hours=2), True),
        # reported before the standing one but at no time a version was: no copy (another
        # field's time, another precision) and no correction back (review 177)
        (_head(T), A, T - timedelta(hours=1), "refused"),
        (_head(T), A, T, "refused"),  # a tie orders nothing (review 176)
        (_head(T, a=T), A, T, "refused"),  # clerical corrections keeping OBX-19's time
        (_head(T), A, T + timedelta(minutes=1), False),  # a correction back to A
        (_head(T), ("d",), T, False),  # a new value at the same time
        (_head(T), ("d",), T - timedelta(minutes=1), "refused"),  # out of order (review 176)
        (_head(None, a=T - timedelta(hours=2)), A, T, "refused"),  # cannot be told
        (_head(T), A, None, "refused"),
        (_head(None), B, None, "refused"),
    ],
)
def test_the_rule(
    head: EarlierResult, content: tuple[str], reported: datetime | None, verdict: object
) -> None:
    """Report fields not known (results stored before migration 0032): compared as they are;
    so too any two of one field (OBR-22 beside OBR-22, OBX-19 beside OBX-19)."""
    got = resent_correction(head, head.content, content, reported)
    if verdict == "refused":
        assert isinstance(got, Rejected) and got.code is RejectionCode.AMBIGUOUS_VERSION
    else:
        assert got is verdict
    for field in ReportField:  # the head and its versions timed by one field, the message too
        timed = head._replace(
            report_field=field, reports=frozenset((c, at, field) for c, at, _ in head.reports)
        )
        again = resent_correction(timed, head.content, content, reported, field)
        assert isinstance(again, Rejected) if verdict == "refused" else again is verdict


OBR22, OBX19 = ReportField.OBR_22, ReportField.OBX_19


@pytest.mark.parametrize(
    ("head", "content", "reported", "field", "verdict"),
    [
        # review 187: times of two fields that order nothing: a new value against a standing
        # correction may be an older correction delivered late: refused (it stood over C)
        (_head(T, OBR22), ("d",), T - timedelta(minutes=30), OBX19, "refused"),
        (_head(T, OBR22), ("d",), T - timedelta(minutes=30), ReportField.JSON_REPORTED_AT,
         "refused"),
        (_head(T, OBX19), ("d",), T + timedelta(minutes=30), OBR22, "refused"),
        # fixer 178: against the chain's final it is applied (a correction follows its final)
        (_head(T, OBR22)._replace(status="F"), ("d",), T - timedelta(minutes=30), OBX19, False),
        (_head(T, OBX19)._replace(status="F"), ("d",), T + timedelta(minutes=30), OBR22, False),
        # where the two fields still tell: analysed after the standing release is newer, and
        # released before the standing analysis older
        (_head(T, OBR22), ("d",), T + timedelta(minutes=30), OBX19, False),
        (_head(T, OBX19), ("d",), T - timedelta(minutes=30), OBR22, "refused"),
        (_head(T, OBX19)._replace(status="F"), ("d",), T - timedelta(minutes=30), OBR22,
         "refused"),
        # what stands said again is stored, as without report times
        (_head(T, OBR22), C, T - timedelta(minutes=30), OBX19, False),
        # an earlier version's value: a duplicate only as that version's exact copy (its
        # value, time and field), else refused, reported before or after the standing one
        (_head(T, OBR22, a=T - timedelta(hours=1)), A, T - timedelta(hours=1), OBX19, "refused"),
        (_head(T, OBX19), A, T + timedelta(hours=1), OBR22, "refused"),
        # analysed after the standing release: a correction back (review 187 D2)
        (_head(T, OBR22), A, T + timedelta(hours=1), OBX19, False),
        (_head(T, OBR22), A, None, OBX19, "refused"),
        # a chain whose head is timed by another field than the version copied
        (
            _head(T, OBR22)._replace(reports=frozenset({(A, T - timedelta(hours=1), OBX19)})),
            A, T - timedelta(hours=1), OBX19, True,
        ),
        # one of the two not known (stored before migration 0032): compared, as before
        (_head(T), ("d",), T - timedelta(minutes=30), OBX19, "refused"),
        (_head(T, OBR22), ("d",), T - timedelta(minutes=30), None, "refused"),
        (_head(T, a=T - timedelta(hours=1)), A, T - timedelta(hours=1), OBX19, True),
    ],
)  # fmt: skip
def test_report_times_of_two_fields_order_only_where_release_and_analysis_tell(
    head: EarlierResult,
    content: tuple[str],
    reported: datetime | None,
    field: ReportField,
    verdict: object,
) -> None:
    got = resent_correction(head, head.content, content, reported, field)
    if verdict == "refused":
        assert isinstance(got, Rejected) and got.code is RejectionCode.AMBIGUOUS_VERSION
    else:
        assert got is verdict


def test_a_refusal_names_the_field_compared() -> None:
    """OBR-22 (said in JSON's and FHIR's words) unless the standing result's time was
    OBX-19's, or, where the standing one's field is not known (stored before migration
    0032), the correction's own was (review 188)."""
    for head, field, named in (
        (_head(T, OBX19), OBX19, "OBX-19"), (_head(T, OBR22), OBR22, "OBR-22"),
        (_head(T), None, "OBR-22"), (_head(T), OBX19, "OBX-19"),
    ):  # fmt: skip
        before = resent_correction(head, C, ("d",), T - timedelta(minutes=1), field)
        back = resent_correction(head, C, A, T - timedelta(minutes=1), field)
        for refused, reason in ((before, REPORTED_BEFORE), (back, RESTATED_VERSION)):
            assert isinstance(refused, Rejected), (head, field)
            assert refused.reason == reason.replace("(OBR-22)", f"({named})")
    across = resent_correction(_head(T, OBX19), C, A, T, OBR22)
    assert isinstance(across, Rejected) and "(OBX-19) after the standing" in across.reason
    assert "a report time (reported_at)" in for_json(across.reason)
    assert not speaks_hl7(for_fhir(across.reason))


# --- any chain, then a resend of any of its versions ---------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["50", "51", "52", "53"]), min_size=1, max_size=5),
    st.data(),
    st.booleans(),
    st.booleans(),
)
def test_a_resend_of_any_earlier_version_never_changes_the_standing_result(
    corrections: list[str], data: st.DataObject, one_batch: bool, with_times: bool
) -> None:
    """Any F, C, C...: a copy of any of its messages under a new id (with the report time
    it had, or none anywhere) leaves the standing value as it was and publishes nothing
    new, unless it says what stands and report times cannot tell it (stored as always)."""
    chain = [("F", "40"), *(("C", value) for value in corrections)]
    times = [n * 10 if with_times else None for n in range(len(chain))]
    pairs = enumerate(zip(chain, times, strict=True))
    messages = [sent(str(n), (*obs, at)) for n, (obs, at) in pairs]
    copied = data.draw(st.integers(0, len(chain) - 1))
    resend = sent("copy", (*chain[copied], times[copied]))
    before_answers, before = asyncio.run(run(messages, one_batch))
    answers, after = asyncio.run(run([*messages, resend], one_batch))
    assert answers[:-1] == before_answers
    assert values(after) == values(before)
    says_what_stands = values(before) == [float(chain[copied][1])] and chain[copied][0] == "C"
    if with_times or not says_what_stands:
        assert published(after) == published(before), (chain, copied)
        assert answers[-1] in (DUPLICATE, REFUSED)


@given(
    st.integers(-3, 3),
    st.booleans(),
    st.sampled_from([ReportField.FHIR_ISSUED, None, ReportField.OBR_22]),
    st.booleans(),
)
def test_a_fhir_version_is_refused_only_when_issued_before_the_standing_one(
    hours: int, restated: bool, field: ReportField | None, timed: bool
) -> None:
    """Review 181: a FHIR version not stored yet is applied unless its ``issued`` time is
    before the standing version's (of the same field, or one stored before 0032)."""
    old, new = ("old",), ("new",)
    head = EarlierResult(
        uuid.uuid4(), "S-1", "crp", AT, ("standing",), frozenset({old}),
        AT, frozenset(), field,
    )  # fmt: skip
    issued = AT + timedelta(hours=hours) if timed else None
    verdict = issued_before(head, old if restated else new, issued)
    if hours < 0 and timed and field is not ReportField.OBR_22:
        assert isinstance(verdict, Rejected)
        assert verdict.code is RejectionCode.AMBIGUOUS_VERSION
        assert verdict.reason == (RESTATED_VERSION if restated else REPORTED_BEFORE)
    else:
        assert verdict is False


def test_an_obx19_beside_obr22_is_compared_with_a_chain_timed_by_obx19() -> None:
    """Review 188: F 50 and C 51 timed by OBX-19 alone (08:00, 09:00), then C 52 released at
    10:00 (OBR-22) and analysed at 09:30 (OBX-19): its analysis time orders it after C 51,
    and it is applied (it was refused, telling the lab to send OBX-19, which it had)."""
    head = _head(T + timedelta(hours=1), OBX19)
    released, analysed = T + timedelta(hours=2), T + timedelta(minutes=90)
    assert isinstance(resent_correction(head, C, ("d",), released, OBR22), Rejected)
    assert resent_correction(head, C, ("d",), released, OBR22, analysed_at=analysed) is False
    earlier = T + timedelta(minutes=30)  # analysed before the standing one: refused
    late = resent_correction(head, C, ("d",), released, OBR22, analysed_at=earlier)
    assert isinstance(late, Rejected) and "(OBX-19)" in late.reason
    # against a chain timed by OBR-22 the release time is compared, as ever
    timed = _head(T + timedelta(hours=1), OBR22)
    assert resent_correction(timed, C, ("d",), released, OBR22, analysed_at=earlier) is False
