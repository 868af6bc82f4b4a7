"""Model-based property: the result chain across messages and batches, against an obviously
correct reference model of what is stored and published (review 84).

The model follows the work item's rules (F/C emitted, a correction names the result it
supersedes, P stored never emitted, X/D/W withdraw every version with an event, a resend
acknowledged and stored once, a reused id refused) and the README's finer decisions (a final
result restating the standing one or a superseded version is a duplicate; a changed final is
refused `result-of-another-sample`; a late copy of a withdrawn value is `ambiguous-version`;
a correction from another message restating its chain is told by report times (review 171:
a copy of the standing one reported no later than it, or of a superseded version reported
before it, is a duplicate; anything reported later is applied; a new value reported before
it, a superseded one reported at the same time, or one report times cannot tell is
`ambiguous-version`, review 176; times of two fields, OBR-22 and OBX-19, are compared only
where a release before an analysis or after it orders them, fixer 178 and review 187; else
as if one were missing, but a new value against a standing correction is refused);
a cancellation sent again for a withdrawn chain is a duplicate; an X under a key that never
held anything is left out; a result key holding another patient's result is never crossed,
nor one holding only their preliminary result by a final or corrected one, review 201).

Also races: another instance's batch committed between this batch's read and its write
(``FakeDatabase.meanwhile``), with the chain indexes of migrations 0009/0011 added to the
shared fake's write (``write_with_chain_indexes``: the fake does not model them). Any order
of the two batches a database could give is accepted. Findings of review 84: defect 1 (a
race forked a chain and left a withdrawn result standing, ``RACE_FORK``: the careful path's
write is now refused when a key it read holding no row holds one) and a metric over-count
(``x_left_out_unheld``, now fixed). A race that resends a message id is left out
(``resent_in_race``).
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import product
from typing import Any, Literal
from unittest.mock import patch

from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from services.lab_ingestion.domain.model import (
    LabMessage,
    ObservationInput,
    RejectionCode,
    StaleBatch,
)
from services.lab_ingestion.domain.report_fields import ReportField
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import (
    AT,
    CRP,
    FakeDatabase,
    FakeLabs,
    ingestor,
)

SUBJECT = {"MRN1": "S-1", "MRN2": "S-2"}
CANCELLING = ("X", "D", "W")
TIMES = {"t0": AT, "t1": AT - timedelta(days=1)}
# a value as written (value, unit) and what it is in mg/L: 4, 4.0 and 0.4 mg/dL say the same
WRITTEN = {"4": ("4", "mg/L"), "4.0": ("4.0", "mg/L"), "0.4": ("0.4", "mg/dL"),
           "12": ("12", "mg/L"), "40": ("40", "mg/L"), "": ("", "")}  # fmt: skip
MG_L = {"4": 4.0, "4.0": 4.0, "0.4": 4.0, "12": 12.0, "40": 40.0, "": None}

# status, key, value, collection time ("t0"/"t1", "t0H": with abnormal flag H; "t0@2": reported
# 2 minutes after AT, the time received, by OBR-22; "t0@2x": by OBX-19; "t0@2?": by a field not
# known, as a result stored before migration 0032)
Obs = tuple[str, str, str, str]
Msg = tuple[str, str, tuple[Obs, ...]]  # control id, mrn, observations
# a batch of messages, a restart, or a race: ("race", this instance's, the other's)
Batch = list[Msg] | Literal["restart"] | tuple[Literal["race"], list[Msg], list[Msg]]
# a drawn batch's items: ("new", a message) or ("again", n); a drawn step, as a Batch
Item = tuple[str, Any]
Step = list[Item] | Literal["restart"] | tuple[Literal["race"], list[Item], list[Item]]


def command(m: Msg) -> IngestLabMessage:
    cid, mrn, observations = m
    lab = LabMessage(
        Channel.MLLP, "LIS", "HOSP", cid, mrn,
        tuple(
            ObservationInput(
                key, CRP, WRITTEN[value][0], (WRITTEN[value][1],) if value else (),
                status=status, collected_at=TIMES[t[:2]],
                abnormal_flag=t.partition("@")[0][2:] or None,
                reported_at=AT + timedelta(minutes=_reported(t)[0]) if "@" in t else None,
                report_field=_reported(t)[1],
            )
            for status, key, value, t in observations
        ),
    )  # fmt: skip
    return IngestLabMessage(lab, lambda: "", AT)


def _reported(t: str) -> tuple[int, ReportField | None]:
    """A time's report time (minutes after AT) and the field it was read from."""
    at = t.partition("@")[2]
    fields = {"x": ReportField.OBX_19, "?": None}
    return (int(at.rstrip("x?")), fields.get(at[-1:], ReportField.OBR_22)) if at else (0, None)


# ---- the reference model ------------------------------------------------------------------

Content = tuple[float | None, str]  # value in mg/L, collection time


@dataclass
class MResult:
    subject: str
    key: str
    status: str  # F, C or P
    content: Content
    supersedes: int | None
    cancelled: bool = False
    reported: int | None = None  # minutes after AT (None: no report time)
    field: ReportField | None = None  # where the report time was read from (None: not known)


def _digested(m: Msg) -> tuple[Any, ...]:
    """What a message's digest covers: its report times left out (``message_identity``)."""
    _, mrn, observations = m
    return mrn, tuple((*o[:3], o[3].partition("@")[0]) for o in observations)


class Rejection(Exception):
    def __init__(self, code: RejectionCode) -> None:
        self.code = code


@dataclass
class Model:
    messages: dict[str, tuple[Msg, int]] = field(default_factory=dict)  # cid -> (msg, stored)
    results: list[MResult] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)

    def _standing(self, key: str, statuses: str, subject: str | None = None) -> int | None:
        found = [
            n for n, r in enumerate(self.results)
            if r.key == key and r.status in statuses and not r.cancelled
            and subject in (None, r.subject)
        ]  # fmt: skip
        return found[-1] if found else None

    def _withdrawn(self, key: str, subject: str) -> set[Content | None]:
        """What the patient's withdrawn versions under the key said (a preliminary: None)."""
        return {
            None if r.status == "P" else r.content
            for r in self.results
            if r.key == key and r.subject == subject and r.cancelled
        }

    def _chain(self, head: int) -> set[Content]:
        """What every standing F/C version of the head's chain says or said."""
        h = self.results[head]
        return {
            r.content for r in self.results
            if r.key == h.key and r.subject == h.subject and r.status in "FC" and not r.cancelled
        }  # fmt: skip

    def _resent_correction(
        self, head: int, content: Content, reported: int | None, by: ReportField | None
    ) -> bool:
        """Whether a correction from another message than its head's restating its chain is
        a copy (True), a correction (False), or cannot be told (refused). Report times are
        compared only when read from one field, or one of the fields is not known (fixer
        178); a copy is one of a version's value, time and field."""
        h = self.results[head]
        restated = content != h.content and content in self._chain(head)

        def one_field(other: ReportField | None) -> bool:
            return None in (by, other) or by == other

        copy = reported is not None and any(
            (r.content, r.reported) == (content, reported) and one_field(r.field)
            for r in self._versions(h)
        )
        if reported is not None and h.reported is not None and not self._ordered(h, reported, by):
            if not restated and content != h.content and h.status != "F":
                raise Rejection(RejectionCode.AMBIGUOUS_VERSION)  # may be an older one
        elif reported is not None and h.reported is not None:
            if content == h.content:
                return reported <= h.reported
            if reported > h.reported:
                return False  # a correction, back or new
            if reported < h.reported and restated and copy:
                return True  # a late copy
            if reported == h.reported and not restated:
                return False  # a new value at the same time
            raise Rejection(RejectionCode.AMBIGUOUS_VERSION)  # out of order, or a tie
        untimed = reported is None and h.reported is not None and h.status == "C"
        if untimed and content != h.content:  # untimed over a timed correction (review 197)
            raise Rejection(RejectionCode.AMBIGUOUS_VERSION)
        if content == h.content or not restated:
            return False  # stored, as always; or a new value
        if copy:
            return True
        raise Rejection(RejectionCode.AMBIGUOUS_VERSION)

    @staticmethod
    def _ordered(h: MResult, reported: int, by: ReportField | None) -> bool:
        """Whether report times order a correction against the head: of one field (or one
        not known), or an analysis (OBX-19) after the head's release (OBR-22), or a release
        before the head's analysis (review 187)."""
        if None in (by, h.field) or by == h.field:
            return True
        assert h.reported is not None
        if (by, h.field) == (ReportField.OBX_19, ReportField.OBR_22):
            return reported > h.reported
        if (by, h.field) == (ReportField.OBR_22, ReportField.OBX_19):
            return reported < h.reported
        return False

    def _versions(self, h: MResult) -> list[MResult]:
        """The versions of ``h``'s chain."""
        return [
            r for r in self.results
            if r.key == h.key and r.subject == h.subject and r.status in "FC" and not r.cancelled
        ]  # fmt: skip

    def _ever(self, key: str) -> bool:
        return any(r.key == key for r in self.results)

    def ingest(self, m: Msg) -> tuple[Any, ...]:
        cid, mrn, observations = m
        if cid in self.messages and mrn in SUBJECT:
            if _digested(self.messages[cid][0]) == _digested(m):
                return ("dup", 0, 0, 0)
            return self._reject(RejectionCode.REUSED_MESSAGE_ID)
        if mrn not in SUBJECT:
            # README (review 185): a correction or cancellation of a result stored under its
            # key (a subject's, whose enrolment no longer names this number) is refused
            standing = {r.key for r in self.results if not r.cancelled}
            if any(status in "CXDW" and key in standing for status, key, _, _ in observations):
                return self._reject(RejectionCode.OTHER_PATIENTS_RESULT)
            return ("discarded",)  # not enrolled: nothing of it kept
        subject = SUBJECT[mrn]
        # README: a C/X/D/W with an empty value under a key that never held anything, used
        # once in the message, beside a result of the patient that acts, is read as X
        uses = Counter(key for _, key, _, _ in observations)

        def acts(o: Obs) -> bool:
            status, key, value, _ = o
            if status in "FPC":
                return any(c.isdigit() for c in value)
            return self._ever(key)

        acting = any(acts(o) for o in observations)
        unused = {
            n for n, (status, key, value, _) in enumerate(observations)
            if status in "CXDW" and not value and uses[key] == 1 and not self._ever(key)
        }  # fmt: skip
        if acting:
            observations = tuple(
                ("X", *o[1:]) if n in unused else o for n, o in enumerate(observations)
            )
        saved = copy.deepcopy((self.results, self.events))
        gone_before = {
            (key, subject): self._withdrawn(key, subject) for _, key, _, _ in observations
        }
        ever_before = {key: self._ever(key) for _, key, _, _ in observations}
        own: set[str] = set()  # keys this message changed
        cleared: set[str] = set()  # keys a cancellation of this message cleared
        just_cancelled: set[str] = set()
        said: dict[str, Content] = {}  # what this message left each key's head saying
        stored = cancelled = left_out = unobtained = 0
        not_obtained: set[str] = set()  # keys reported not obtained (counted once each)
        try:
            for status, key, value, t in observations:
                sample, _, at = t.partition("@")
                content = (MG_L[value], sample)
                reported, by = _reported(t) if at else (None, None)
                gone = gone_before[(key, subject)]
                head = self._standing(key, "FC")
                if status in CANCELLING and head is None:
                    head = self._standing(key, "P", subject)
                other = head is not None and self.results[head].subject != subject
                # an X left out under a key that held nothing before the message is no
                # restatement; it is counted as not obtained only where neither the chain
                # nor an earlier result of the message held anything (finding 2 of review 84)
                x_left_out_unheld = status == "X" and not ever_before[key]
                if status in CANCELLING:
                    if gone and (head is None or other):  # its cancellation sent again
                        cleared.add(key)
                        just_cancelled.add(key)
                        left_out += 1
                        continue
                    if key in just_cancelled:
                        left_out += 1
                        unobtained += x_left_out_unheld
                        continue
                    if status == "X" and not self._ever(key):
                        left_out += 1
                        unobtained += 1
                        not_obtained.add(key)
                        continue
                    if other:
                        raise Rejection(RejectionCode.OTHER_PATIENTS_RESULT)
                    if head is None:
                        raise Rejection(RejectionCode.UNKNOWN_CORRECTED_RESULT)
                    emitted = self.results[head].status in "FC"
                    for r in self.results:
                        if r.key == key and r.subject == subject:
                            r.cancelled = True
                    if emitted:
                        self.events.append(
                            ("cancelled", head, "deleted" if status in "DW" else
                             "cannot-be-obtained")
                        )  # fmt: skip
                    own.add(key)
                    cleared.add(key)
                    just_cancelled.add(key)
                    said.pop(key, None)
                    cancelled += 1
                    continue
                head_says = None if head is None else (
                    said.get(key, self.results[head].content))  # fmt: skip
                superseded = (
                    status == "F" and head is not None and key not in own
                    and content in self._chain(head)
                )  # fmt: skip
                if (  # a late copy of a withdrawn version
                    status in "FC" and key not in cleared and content in gone
                    and (head is None or other or (content != head_says and not superseded))
                ):  # fmt: skip
                    raise Rejection(RejectionCode.AMBIGUOUS_VERSION)
                if other or (status in "FC" and head is None and any(
                    r.key == key and r.subject != subject and r.status == "P"
                    and not r.cancelled for r in self.results
                )):  # fmt: skip
                    # review 201: another patient's standing preliminary is theirs too
                    raise Rejection(RejectionCode.OTHER_PATIENTS_RESULT)
                if superseded:
                    left_out += 1  # a delayed copy of a version (or the head) of the chain
                    continue
                if (
                    status == "F"
                    and head is not None
                    and self.results[head].content[1][:2] != t[:2]
                ):
                    raise Rejection(RejectionCode.OTHER_SAMPLES_RESULT)  # another sample
                if status == "C" and head is None:
                    raise Rejection(RejectionCode.UNKNOWN_CORRECTED_RESULT)
                if status == "F" and head is not None:
                    if head_says == content:
                        left_out += 1
                        continue
                    raise Rejection(RejectionCode.OTHER_SAMPLES_RESULT)  # a changed final
                if status == "C" and key in own and head_says == content:
                    left_out += 1  # the same correction said twice in one message
                    continue
                if (  # a correction resent under a new message id (review 171)
                    status == "C" and key not in own and head is not None
                    and self._resent_correction(head, content, reported, by)
                ):  # fmt: skip
                    left_out += 1
                    continue
                just_cancelled.discard(key)
                self.results.append(
                    MResult(subject, key, status, content, head, False, reported, by)
                )
                stored += 1
                if status in "FC":
                    own.add(key)
                    said[key] = content
                    self.events.append(
                        ("recorded", len(self.results) - 1, status, MG_L[value], head)
                    )
        except Rejection as refused:
            self.results, self.events = saved
            return self._reject(refused.code)
        self.messages[cid] = (m, stored)
        if stored or cancelled:
            return ("stored", stored, cancelled, len(not_obtained))
        if left_out > unobtained:
            return ("dup", 0, 0, 0)  # a resend under another id counts nothing again
        return ("stored", 0, 0, len(not_obtained))

    def _reject(self, code: RejectionCode) -> tuple[Any, ...]:
        self.events.append(("rejected",))
        return ("rejected", code)


# ---- the service, observed as the model is ----------------------------------------------

WHEN = {v: k for k, v in TIMES.items()}


def observed(outcome: Any) -> tuple[Any, ...]:
    if outcome.accepted and not outcome.enrolled:
        return ("discarded",)
    if not outcome.accepted:
        return ("rejected", outcome.code)
    return (
        "dup" if outcome.duplicate else "stored", outcome.results, outcome.cancelled,
        outcome.not_obtained,
    )  # fmt: skip


def _norm(value: Any) -> str:
    return repr(float(value))


def service_state(db: FakeDatabase) -> tuple[Any, ...]:
    position = {r.result_id: n for n, r in enumerate(db.results)}
    results = [
        (
            r.subject_id, r.result_key, r.status,
            (_norm(r.result.value), WHEN[r.collected_at] + (r.result.abnormal_flag or "")),
            position.get(r.supersedes_result_id) if r.supersedes_result_id else None,
            r.cancelled_at is not None or r.result_id in db.cancelled,
        )
        for r in db.results
    ]  # fmt: skip
    messages = sorted((m.control_id, m.result_count) for m in db.messages.values())
    events: list[tuple[Any, ...]] = []
    for topic, envelope in db.events:
        p = envelope.payload
        if topic == "lab.rejected.v1":
            events.append(("rejected",))
        elif envelope.event_type == "LabResultRecorded":
            status = {"final": "F", "corrected": "C"}.get(p["status"], p["status"])
            sup = p["supersedes_result_id"]
            events.append((
                "recorded", position[uuid.UUID(str(p["result_id"]))], status,
                float(p["value"]), position[uuid.UUID(str(sup))] if sup else None,
            ))  # fmt: skip
        elif envelope.event_type == "LabResultCancelled":
            events.append(
                ("cancelled", position[uuid.UUID(str(p["cancelled_result_id"]))], p["reason"])
            )
        else:
            events.append(("other", envelope.event_type))
    return results, messages, events


def model_state(model: Model) -> tuple[Any, ...]:
    results = [
        (r.subject, r.key, r.status, (_norm(r.content[0]), r.content[1]), r.supersedes,
         r.cancelled)
        for r in model.results
    ]  # fmt: skip
    messages = sorted((cid, stored) for cid, (_, stored) in model.messages.items())
    return results, messages, model.events


# ---- scenarios ----------------------------------------------------------------------------

observation = st.tuples(
    st.sampled_from(["F", "F", "F", "C", "C", "P", "X", "D", "W"]),
    st.sampled_from(["K1", "K1", "K2"]),
    st.sampled_from(["4", "4", "4.0", "0.4", "12", "40"]),
    st.sampled_from(
        ["t0", "t0", "t0", "t1", "t0H", "t0@1", "t0@2", "t0@3", "t0@1x", "t0@2x", "t0@2?"]
    ),
    st.booleans(),  # a cancellation: with an empty value (else the value)
)
new_message = st.tuples(
    st.sampled_from([str(n) for n in range(8)]),
    st.sampled_from(["MRN1", "MRN1", "MRN1", "MRN2", "MRN2", "MRN3"]),
    st.lists(observation, min_size=1, max_size=3).filter(lambda o: len(o) == 1 or True),
)
# ("new", msg) or ("again", n): the n-th message sent so far (mod how many), resent as it was
item = st.one_of(
    st.tuples(st.just("new"), new_message),
    st.tuples(st.just("again"), st.integers(0, 20)),
)
# a batch, a restart (nothing remembered), or a race: another instance's batch committed
# between this batch's read and its write (the model: the other's first)
batch_items = st.lists(item, min_size=1, max_size=4)
step = st.one_of(
    batch_items,
    batch_items,
    st.just("restart"),
    st.tuples(st.just("race"), batch_items, batch_items),
)
scenarios = st.lists(step, min_size=1, max_size=8)


def concrete(scenario: list[Step], *, one_observation: bool = False) -> list[Batch]:
    sent: list[Msg] = []
    batches: list[Batch] = []

    def messages_of(batch: list[Item]) -> list[Msg]:
        msgs = []
        for kind, detail in batch:
            if kind == "again":
                if not sent:
                    continue
                m = sent[detail % len(sent)]
            else:
                cid, mrn, observations = detail
                if one_observation:
                    observations = observations[:1]
                m = (cid, mrn, tuple(
                    (status, key, "" if status in CANCELLING and empty else value, t)
                    for status, key, value, t, empty in observations
                ))  # fmt: skip
            sent.append(m)
            msgs.append(m)
        return msgs

    for batch in scenario:
        if batch == "restart":
            batches.append("restart")
        elif batch[0] == "race":
            mine, theirs = messages_of(batch[1]), messages_of(batch[2])
            if mine and theirs:
                batches.append(("race", mine, theirs))
        elif msgs := messages_of(batch):
            batches.append(msgs)
    return batches


_fake_write = FakeLabs.write


def write_with_chain_indexes(labs: FakeLabs) -> None:
    """The fake's write, refused as PostgreSQL's chain indexes refuse it (migrations 0009
    and 0011, which the shared fake does not model): at most one standing first result per
    key, and a result superseded by at most one standing final or corrected one."""
    db = labs.db
    before = (list(db.results), set(db.cancelled), dict(db.messages))
    _fake_write(labs)
    standing = [r for r in db.results if r.status in "FC" and r.cancelled_at is None
                and r.result_id not in db.cancelled]  # fmt: skip
    roots = Counter((r.source, r.result_key) for r in standing if r.supersedes_result_id is None)
    superseded = Counter(r.supersedes_result_id for r in standing if r.supersedes_result_id)
    if any(n > 1 for n in roots.values()) or any(n > 1 for n in superseded.values()):
        db.results, db.cancelled, db.messages = before
        db.refused += 1
        raise StaleBatch("refused by a chain index")


def _only_if(condition: bool) -> None:
    """Skip a generated example that does not hold (``assume``, called only when it fails:
    the hand-written examples below run outside hypothesis, and always hold)."""
    if not condition:
        assume(False)


async def run_service(batches: list[Batch]) -> tuple[list[Any], tuple[Any, ...]]:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(MRN2)": "S-2"})
    ingest, other = ingestor(db), ingestor(db)
    outcomes = []
    for batch in batches:
        if batch == "restart":
            ingest, other = ingestor(db), ingestor(db)
        elif batch[0] == "race":
            _, mine, theirs = batch
            raced: list[Any] = []

            async def meanwhile(
                theirs: list[Msg] = theirs, raced: list[Any] = raced, other: Any = other
            ) -> None:
                raced.extend(await other([command(m) for m in theirs]))

            db.meanwhile = [meanwhile]
            try:
                answered = await ingest([command(m) for m in mine])
            except AssertionError as lock:  # the other would wait for the chain lock
                _only_if("chain lock" not in str(lock))
                raise
            _only_if(not db.meanwhile)  # (nothing committed: no race)
            outcomes += [observed(o) for o in (*raced, *answered)]
        else:
            outcomes += [observed(o) for o in await ingest([command(m) for m in batch])]
    return outcomes, service_state(db)


def run_model(batches: list[Any], order: tuple[int, ...] = ()) -> tuple[list[Any], tuple[Any, ...]]:
    """``order``: for each race, how many of this instance's messages were decided before
    the other instance's batch (planned on what it read before the other's commit: when
    its write does not depend on what the other stored, any such order is one a database
    could give; a rejection, say, read before the other's commit)."""
    model = Model()
    outcomes: list[Any] = []
    races = iter(order)
    for batch in batches:
        if batch == "restart":
            continue
        if batch[0] == "race":
            _, mine, theirs = batch
            at = next(races, 0)  # how many of this instance's messages went first
            answered = [model.ingest(m) for m in mine[:at]]
            outcomes += [model.ingest(m) for m in theirs]
            outcomes += answered + [model.ingest(m) for m in mine[at:]]
        else:
            outcomes += [model.ingest(m) for m in batch]
    return outcomes, model_state(model)


def canonical(state: tuple[Any, ...]) -> tuple[Any, ...]:
    """The state with results named by what they are, not where they stand (a race's
    batches commit in one order, and may have been planned in the other)."""
    results, messages, events = state

    def name(n: int | None) -> Any:
        if n is None:
            return None
        subject, key, status, content, superseded, _ = results[n]
        # (a preliminary result names the head it follows, which a race may order otherwise)
        return (subject, key, status, content, None if status == "P" else name(superseded))

    named = sorted(repr((name(n), r[-1])) for n, r in enumerate(results))
    shown = sorted(
        repr(tuple(name(x) if i == 1 or (i == 4 and e[0] == "recorded") else x
                   for i, x in enumerate(e)))
        for e in events
    )  # fmt: skip
    return named, messages, shown


def resent_in_race(batches: list[Any]) -> bool:
    """A race in which a message id is sent that was sent before (a resend or a reused id):
    how such a resend is answered beside a withdrawal of its batch can differ from every
    order of the two batches (found once defect 1 was fixed; not part of it, reported)."""
    sent: set[str] = set()
    for batch in batches:
        if batch == "restart":
            continue
        msgs = [*batch[1], *batch[2]] if batch[0] == "race" else batch
        ids = [m[0] for m in msgs]
        if batch[0] == "race" and (len(set(ids)) < len(ids) or sent & set(ids)):
            return True
        sent.update(ids)
    return False


def check(batches: list[Any]) -> None:
    with patch.object(FakeLabs, "write", write_with_chain_indexes):
        got_outcomes, got_state = asyncio.run(run_service(batches))
    races = [len(b[1]) for b in batches if b != "restart" and b[0] == "race"]
    if races:  # any order of each race's two batches will do
        candidates = [
            run_model(batches, order) for order in product(*(range(n + 1) for n in races))
        ]
        matched = any(
            o == got_outcomes and canonical(st_) == canonical(got_state) for o, st_ in candidates
        )
        if not matched and resent_in_race(batches):
            reject()  # see resent_in_race
        assert matched, (got_outcomes, [o for o, _ in candidates], canonical(got_state),
            [canonical(st_) for _, st_ in candidates])  # fmt: skip
        return
    want_outcomes, want_state = run_model(batches)
    for n, (got, want) in enumerate(zip(got_outcomes, want_outcomes, strict=True)):
        assert got == want, (n, got, want, batches)
    assert got_state[0] == want_state[0], ("results", got_state[0], want_state[0])
    assert got_state[1] == want_state[1], ("messages", got_state[1], want_state[1])
    assert got_state[2] == want_state[2], ("events", got_state[2], want_state[2])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_the_result_chain_is_what_the_reference_model_says(
    scenario: list[Step],
) -> None:
    check(concrete(scenario))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_one_message_a_batch_is_what_the_reference_model_says(
    scenario: list[Step],
) -> None:
    check(
        [
            x
            for batch in concrete(scenario)
            for x in ([batch] if batch == "restart" or batch[0] == "race" else [[m] for m in batch])
        ]
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_one_observation_a_message_is_what_the_reference_model_says(
    scenario: list[Step],
) -> None:
    check(concrete(scenario, one_observation=True))


# ---- defect 1: a race forks a chain and leaves a withdrawn result standing ---------------

RACE_FORK: list[Batch] = [
    ("race",
     [("0", "MRN1", (("F", "K1", "4", "t0"),)), ("2", "MRN1", (("X", "K1", "", "t0"),))],
     [("1", "MRN1", (("F", "K1", "4", "t0"),))]),
]  # fmt: skip


def test_a_race_forks_a_chain_and_leaves_a_withdrawn_result_standing() -> None:
    """Instance A's batch (careful path, for its X) reads K1 empty and plans F 4 then X;
    meanwhile instance B stores the lab's copy of F 4 under a new MSH-10 on the fast path.
    No chain index refuses A's write (its own F is inserted already cancelled): unguarded,
    two first final results of one patient under K1 were published, the X cancelled A's
    alone, and B's F 4, which the lab withdrew, stood. The guard now refuses A's write (K1,
    read holding no row, holds B's) and A reads again. Either order the lab could mean
    leaves nothing standing (B first: A's F is its duplicate and the X withdraws it; A
    first: B's copy is a late copy of a withdrawn version, ambiguous-version)."""
    with patch.object(FakeLabs, "write", write_with_chain_indexes):
        outcomes, (results, _, events) = asyncio.run(run_service(RACE_FORK))
    standing = [r for r in results if r[2] in "FC" and not r[-1]]
    published_finals = [e for e in events if e[0] == "recorded" and e[2] == "F"]
    assert standing == [] and len(published_finals) == 1, (outcomes, results, events)


# ---- finding 2: each key not obtained counted once, never where the message held one -----


def outcomes_of(*observations: Obs) -> list[Any]:
    with patch.object(FakeLabs, "write", write_with_chain_indexes):
        outcomes, _ = asyncio.run(run_service([[("0", "MRN1", observations)]]))
    return outcomes


def test_an_x_said_again_after_the_messages_own_final_is_not_counted_not_obtained() -> None:
    """F 4, X, X under K1: the F stored and withdrawn; the second X withdraws nothing, but
    the key held the message's own F: nothing was reported not obtained."""
    assert outcomes_of(("F", "K1", "4", "t0"), ("X", "K1", "", "t0"), ("X", "K1", "", "t0")) == [
        ("stored", 1, 1, 0)
    ]


def test_an_x_said_twice_under_a_key_that_never_held_anything_is_counted_once() -> None:
    assert outcomes_of(("F", "K1", "4", "t0"), ("X", "K2", "", "t0"), ("X", "K2", "", "t0")) == [
        ("stored", 1, 0, 1)
    ]
    assert outcomes_of(("X", "K2", "", "t0"), ("X", "K2", "", "t0")) == [("stored", 0, 0, 1)]


# ---- review 171: a correction resent under a new message id -------------------------------


def test_corrections_resent_under_new_ids_are_what_the_reference_model_says() -> None:
    """F, C, C, then the first C's copy: with report times a duplicate, without refused
    (the model's examples rarely reach three versions of one key, then a fourth)."""
    for times, first, again in (("@1", "@2", "@2"), ("", "", ""), ("@1", "@3", "")):
        chain = [
            ("0", "MRN1", (("F", "K1", "4", "t0" + times),)),
            ("1", "MRN1", (("C", "K1", "12", "t0" + first),)),
            ("2", "MRN1", (("C", "K1", "40", "t0@3" if times else "t0"),)),
            ("3", "MRN1", (("C", "K1", "12", "t0" + again),)),
            ("4", "MRN1", (("C", "K1", "40", "t0@3" if times else "t0"),)),
        ]
        check([[m] for m in chain])
        check([chain])


def test_a_correction_without_a_report_time_over_a_timed_one_is_what_the_model_says() -> None:
    """Review 197 in the model (review 250: a random draw found the model without it): F 4,
    then [F 4, C 4 reported at 09:01], then C 12 with no report time is refused, which
    version is newer cannot be told; said again (C 4), or with a report time, it is judged
    as before."""
    for then in ("12", "4", "12@2"):
        value, _, at = then.partition("@")
        chain = [
            ("0", "MRN1", (("F", "K1", "4", "t0"),)),
            ("1", "MRN1", (("F", "K1", "4", "t0"), ("C", "K1", "4", "t0@1"))),
            ("2", "MRN1", (("C", "K1", value, "t0@" + at if at else "t0"),)),
        ]
        check([[m] for m in chain])
        check([chain])


def test_corrections_timed_by_two_fields_are_what_the_reference_model_says() -> None:
    """Fixer 178: F timed by OBR-22, then a correction timed by OBX-19 before it (a new
    value: applied), its copy, a correction back to F's value by OBX-19 (refused: no copy);
    the other way round; and a chain of one field a result of a field not known joins."""
    for first, then in (("@3", "@1x"), ("@2x", "@1"), ("@3?", "@1x"), ("@3", "@1?")):
        chain = [
            ("0", "MRN1", (("F", "K1", "4", "t0" + first),)),
            ("1", "MRN1", (("C", "K1", "12", "t0" + then),)),
            ("2", "MRN1", (("C", "K1", "12", "t0" + then),)),
            ("3", "MRN1", (("C", "K1", "4", "t0" + then),)),
            ("4", "MRN1", (("C", "K1", "4", "t0" + first),)),
        ]
        check([[m] for m in chain])
        check([chain])
