"""A Bundle sent again whole (its answer was lost) is a resend of its stale versions, decided
for each result on its own (review 109), in work linear in its entries (review 45): each
entry may ask, and checking the whole Bundle for each held the event loop for seconds
(1,000 entries: 14 s)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from services.lab_ingestion.adapters.fhir_bundle import parse_bundle
from services.lab_ingestion.domain import bundle_resends, planning
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer import command_outcomes, transactions
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from tests.unit.lab_ingestion.route_fakes import MRN, PATIENT, PATIENT_URL, bundle, observation
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
AGAIN = AT + timedelta(minutes=1)  # the resend, after a lost answer


def version(identifier: str, value: float, status: str = "final") -> dict[str, Any]:
    return observation(
        id=identifier.lower(), status=status,
        identifier=[{"system": "urn:lis", "value": identifier}],
        valueQuantity={"value": value, "unit": "mg/dL", "code": "mg/dL"},
    )  # fmt: skip


def batch_commands(resources: list[dict[str, Any]], at: datetime = AT) -> list[IngestLabMessage]:
    """A batch Bundle's entries as the HTTP route builds them: each its own command, with
    the Bundle's messages and the time the Bundle was received."""
    parsed = parse_bundle(bundle("batch", *resources), "LIS", "HOSP", lambda s: f"h({s})")
    return [
        IngestLabMessage(m, lambda: "", at, check_source=False, bundle=parsed.messages)
        for m in parsed.messages
    ]


def answers(outcomes: list[IngestOutcome]) -> list[str]:
    """Each entry's: stored, duplicate or its rejection code."""
    return [
        (o.code.value if o.code else "?") if not o.accepted
        else "duplicate" if o.duplicate else "stored"
        for o in outcomes
    ]  # fmt: skip


def enrolled() -> FakeDatabase:
    return FakeDatabase(enrolled={"h(MRN-4711-0815)": "S-1"})


async def test_a_batch_bundle_sent_again_whole_is_checked_once_per_bundle() -> None:
    entries = 120
    db = enrolled()
    store = ingestor(db)
    resources = [version(f"R-{i}", 1.5) for i in range(entries)]
    first = await store(batch_commands(resources))
    assert all(o.accepted and not o.duplicate and o.results == 1 for o in first)
    calls = 0

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return planning.check_repeated_version(*args, **kwargs)

    with (
        patch.object(bundle_resends, "check_repeated_version", counted),
        patch.object(command_outcomes, "check_repeated_version", counted),
    ):
        again = await store(batch_commands(resources, AGAIN))
    assert all(o.accepted and o.duplicate for o in again)
    assert calls <= 4 * entries, f"{calls} version checks for a Bundle of {entries} entries"
    assert len(db.results) == entries


class CountedReads(Mapping[tuple[str, str], datetime]):
    """The batch's receive times, counting how often one is looked up."""

    reads = 0

    def __init__(self, received: Mapping[tuple[str, str], datetime]) -> None:
        self._received = received

    def __getitem__(self, key: tuple[str, str]) -> datetime:
        CountedReads.reads += 1
        return self._received[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._received)

    def __len__(self) -> int:
        return len(self._received)


async def test_the_versions_of_a_result_are_walked_once_per_bundle() -> None:
    """Every version but the last is stale on the resend, and each asks whether its result
    was sent again whole: its versions are looked at once, not once for each."""
    versions = 150
    db = enrolled()
    store = ingestor(db)
    resources = [version("R-1", 1.5)] + [
        version("R-1", 2 + i / 10, "corrected") for i in range(versions - 1)
    ]
    assert answers(await store(batch_commands(resources))) == ["stored"] * versions
    resent = bundle_resends.resent_in_bundle

    def counted(message: Any, found: Any, received: Any, *args: Any, **kwargs: Any) -> bool:
        return resent(message, found, CountedReads(received), *args, **kwargs)

    CountedReads.reads = 0
    with patch.object(transactions, "resent_in_bundle", counted):
        again = await store(batch_commands(resources, AGAIN))
    assert answers(again) == ["duplicate"] * versions
    assert CountedReads.reads <= 2 * versions, f"{CountedReads.reads} reads, {versions} versions"


async def test_a_stale_version_is_a_resend_whatever_the_bundles_other_results() -> None:
    """A patient not enrolled, an entry rejected: the other results do not matter."""
    db = enrolled()
    store = ingestor(db)
    other = version("N-1", 9)
    other["subject"] = {"identifier": {"system": "urn:hosp", "value": "MRN-NOT-ENROLLED"}}
    bad = version("BAD-1", 9)
    bad["valueQuantity"] = {"value": 9, "unit": "furlongs", "code": "furlongs"}
    resources = [version("V-1", 20), version("V-1", 4, "corrected"), other, bad]
    first = await store(batch_commands(resources))
    assert answers(first)[:3] == ["stored", "stored", "stored"]  # N-1: discarded
    assert not first[2].enrolled and not first[3].accepted
    again = await store(batch_commands(resources, AGAIN))
    assert answers(again)[:3] == ["duplicate", "duplicate", "stored"]
    assert again[3].code is first[3].code  # answered as it would be alone
    assert len(db.results) == 2


async def test_a_bundles_own_new_version_never_makes_its_stale_one_a_resend() -> None:
    """Versions stored by the Bundle itself were not received before it: a stale version
    beside them is refused as when sent alone (and so is one whose Bundle adds a new
    version after the stored ones)."""
    db = enrolled()
    store = ingestor(db)
    stored = [version("W-1", 20), version("W-1", 4, "corrected")]
    await store(batch_commands(stored))
    newer = version("W-1", 7, "corrected")
    own_first = await store(batch_commands([newer, stored[0], newer], AGAIN))
    assert answers(own_first) == ["stored", "ambiguous-version", "duplicate"]
    added = await store(batch_commands([*stored, version("W-1", 8, "corrected")], AGAIN))
    assert answers(added) == ["ambiguous-version", "ambiguous-version", "stored"]


async def test_a_bundle_whose_last_version_is_not_the_head_is_no_resend() -> None:
    """Reordered (the correction before the final result), or partial (the older version
    alone): its stale versions are refused."""
    db = enrolled()
    store = ingestor(db)
    stored = [version("O-1", 20), version("O-1", 4, "corrected")]
    await store(batch_commands(stored))
    reordered = await store(batch_commands([stored[1], stored[0]], AGAIN))
    assert answers(reordered) == ["duplicate", "ambiguous-version"]
    partial = await store(batch_commands([stored[0]], AGAIN))
    assert answers(partial) == ["ambiguous-version"]
    assert [o.code for o in partial] == [RejectionCode.AMBIGUOUS_VERSION]


async def test_a_bundle_sent_twice_in_one_batch_is_a_resend_the_second_time() -> None:
    """The second copy's versions were received (and stored) before it, in the same batch."""
    db = enrolled()
    store = ingestor(db)
    resources = [version("Q-1", 20), version("Q-1", 4, "corrected")]
    both = await store(batch_commands(resources) + batch_commands(resources, AGAIN))
    assert answers(both) == ["stored", "stored", "duplicate", "duplicate"]
    assert len(db.results) == 2


async def test_a_batch_bundle_of_a_sender_with_an_authority_is_known_by_its_chosen_number() -> None:
    """The sender's authority chooses the patient's number among the Patient's (the parser
    could not): the Bundle's versions are known by the ids its entries were stored under."""
    db = FakeDatabase(enrolled={"h(MRN-4711-0815)": "S-1"}, identifier_authority="urn:hosp")
    store = ingestor(db)
    numbers = [{"system": "urn:region", "value": "R-77"}, {"system": "urn:hosp", "value": MRN}]
    resources = [{**PATIENT, "identifier": numbers}]
    for resource in (version("V-1", 20), version("V-1", 4, "corrected")):
        resources.append({**resource, "subject": {"reference": PATIENT_URL}})
    assert answers(await store(batch_commands(resources))) == ["stored", "stored"]
    assert answers(await store(batch_commands(resources, AGAIN))) == ["duplicate", "duplicate"]
