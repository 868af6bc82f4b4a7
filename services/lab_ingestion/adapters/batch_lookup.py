"""The careful path's read of a batch (``batch_statements.LOOKUP``): its rows mapped to what
the planning needs: messages known, subjects enrolled and withdrawn (and those whose former
numbers the hashes are), each result key's chain (its head, the versions standing, those
withdrawn, a preliminary), keys held, and when each chain last changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from services.lab_ingestion.domain.records import (
    Content,
    EarlierResult,
    EnrolledSubject,
    PatientKey,
    WithdrawnSubject,
    WithdrawnVersion,
    result_content,
)
from services.lab_ingestion.domain.report_fields import Report, report_field

SourceKey = tuple[str, str]


@dataclass
class BatchLookup:
    known: dict[SourceKey, str | None] = field(default_factory=dict)  # -> content digest
    received: dict[SourceKey, datetime] = field(default_factory=dict)  # -> when it came in
    subjects: dict[str, tuple[EnrolledSubject, ...]] = field(default_factory=dict)
    # subjects withdrawn from the trial, by hash: their earlier results may still be
    # corrected or cancelled (never taken for enrolled: only the careful path reads them)
    withdrawn: dict[str, tuple[WithdrawnSubject, ...]] = field(default_factory=dict)
    # the subjects whose former number each hash is (their enrolment corrected since)
    former: dict[str, tuple[EnrolledSubject, ...]] = field(default_factory=dict)
    latest: dict[SourceKey, EarlierResult] = field(default_factory=dict)
    # each patient's newest standing preliminary result under a key
    preliminary: dict[PatientKey, EarlierResult] = field(default_factory=dict)
    # what each key's withdrawn (cancelled) versions said, each patient's
    withdrawn_versions: dict[SourceKey, frozenset[WithdrawnVersion]] = field(default_factory=dict)
    # the result keys that hold any row at all, of any patient and status
    held: set[SourceKey] = field(default_factory=set)
    # when each key's chain last changed (read for a replay only, ``change_times``)
    changed_at: dict[SourceKey, datetime] = field(default_factory=dict)


def read_lookup(
    rows: Sequence[asyncpg.Record], control_ids: dict[str, str], keys: dict[str, str]
) -> BatchLookup:
    """The lookup's rows, with ids as the messages wrote them (``control_ids``, ``keys``:
    stored -> written)."""
    lookup = BatchLookup()
    versions: dict[SourceKey, set[Content]] = {}
    reports: dict[SourceKey, set[Report]] = {}  # versions reported when, by which field
    cancelled: dict[SourceKey, set[WithdrawnVersion]] = {}
    for row in rows:
        kind = row["kind"]
        if kind == "message":
            key = (row["key1"], control_ids[row["key2"]])
            lookup.known[key] = row["digest"]
            lookup.received[key] = row["collected_at"]  # (the time it was received)
        elif kind == "subject":
            _read_subject(lookup, row)
        elif kind == "former":  # a subject's number before their enrolment was corrected
            former = EnrolledSubject(row["key2"], row["site_id"])
            lookup.former[row["key1"]] = (*lookup.former.get(row["key1"], ()), former)
        elif kind == "result":  # a chain's head, with what it says
            head = _earlier(row, _content(row))._replace(status=row["site_id"])  # F or C
            lookup.latest[(row["key1"], keys[row["key2"]])] = head
        elif kind == "version":  # what a standing version of a chain says, reported when
            key = (row["key1"], keys[row["key2"]])
            versions.setdefault(key, set()).add(_content(row))
            if row["reported_at"] is not None:
                report = (_content(row), row["reported_at"], report_field(row["report_field"]))
                reports.setdefault(key, set()).add(report)
        elif kind == "held":  # the key holds a row, whatever it is
            lookup.held.add((row["key1"], keys[row["key2"]]))
        elif kind == "changed":  # (the time, in the collected_at column)
            lookup.changed_at[(row["key1"], keys[row["key2"]])] = row["collected_at"]
        elif kind == "preliminary":
            patient_key = (row["key1"], keys[row["key2"]], row["subject_id"])
            lookup.preliminary[patient_key] = _earlier(row, None)
        else:  # a withdrawn version: what it said (a preliminary's: None)
            content = None if kind == "withdrawn preliminary" else _content(row)
            version = WithdrawnVersion(row["subject_id"], row["analyte"], content)
            cancelled.setdefault((row["key1"], keys[row["key2"]]), set()).add(version)
    lookup.withdrawn_versions = {key: frozenset(v) for key, v in cancelled.items()}
    for key, head in list(lookup.latest.items()):
        said = versions.get(key, set()) - {head.content}
        lookup.latest[key] = head._replace(
            superseded=frozenset(said), reports=frozenset(reports.get(key, ()))
        )
    return lookup


def _read_subject(lookup: BatchLookup, row: asyncpg.Record) -> None:
    enrolled = EnrolledSubject(row["key2"], row["site_id"])
    hmac = row["key1"]
    if row["collected_at"] is None:  # (the withdrawal time, in that column)
        lookup.subjects[hmac] = (*lookup.subjects.get(hmac, ()), enrolled)
    else:
        withdrawn = WithdrawnSubject(enrolled, row["collected_at"])
        lookup.withdrawn[hmac] = (*lookup.withdrawn.get(hmac, ()), withdrawn)


def _earlier(row: asyncpg.Record, content: Content | None) -> EarlierResult:
    return EarlierResult(
        row["result_id"],
        row["subject_id"],
        row["analyte"],
        row["collected_at"],
        content,
        reported_at=row["reported_at"],
        report_field=report_field(row["report_field"]),
    )


def _content(row: asyncpg.Record) -> Content:
    reference = (row["reference_low"], row["reference_high"])
    return result_content(
        row["loinc"], row["value"], row["unit"], reference,
        abnormal_flag=row["abnormal_flag"], collected_at=row["collected_at"],
        comparator=row["comparator"],
    )  # fmt: skip
