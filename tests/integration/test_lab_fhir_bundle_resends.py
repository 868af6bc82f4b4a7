"""A FHIR Bundle sent again whole after a lost answer is a resend, decided for each result
on its own (review 109): its entries of a patient not enrolled (then, or since), an entry
rejected, a copy of it in the same commit batch or its entries in another never make its
stored versions stale. A Bundle that is not its earlier send again is refused as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import TRIAL_SUBJECTS
from shared.secrets import subject_hmac_key
from shared.settings import PlatformSettings
from tests.factories import subject_enrolled
from tests.integration.lab_batches import committer_held, queued
from tests.integration.lab_fixtures import crp_observation
from tests.integration.messaging_fixtures import migrated_pool, record
from tests.integration.test_lab_fhir_versions import (
    bundle,
    post,
    rejection_codes,
    standing_values,
)
from tests.integration.test_lab_ingestion import Lab, running_lab
from tests.integration.test_lab_late_enrolment import relay_until

pytestmark = pytest.mark.integration

NOT_ENROLLED = "MRN-NOT-ENROLLED-9"


def obs(identifier: str, value: float, status: str = "final", mrn: str = "") -> dict[str, Any]:
    observation = crp_observation(identifier)
    observation["valueQuantity"]["value"] = value
    observation["status"] = status
    if mrn:
        observation["subject"] = {"identifier": {"system": "urn:hosp", "value": mrn}}
    return observation


def furlongs(identifier: str) -> dict[str, Any]:
    """A trial result that cannot be used: rejected (kept) wherever it is sent."""
    observation = obs(identifier, 9)
    observation["valueQuantity"].update(unit="furlongs", code="furlongs")
    return observation


async def counts(lab: Lab) -> tuple[int, int]:
    """Results stored, events emitted."""
    results = await lab.pool.fetchval("SELECT count(*) FROM results")
    events = "SELECT count(*) FROM outbox WHERE topic = 'lab.results.v1'"
    return results, await lab.pool.fetchval(events)


@pytest.mark.parametrize("kind", ["transaction", "batch"])
async def test_a_bundle_with_a_patient_not_enrolled_sent_again_whole_is_a_resend(
    lab: Lab, kind: str
) -> None:
    body = bundle(
        kind, [obs("V-1", 20), obs("V-1", 4, "corrected"), obs("N-1", 9, mrn=NOT_ENROLLED)]
    )
    assert await post(lab, "/fhir", body) == (200, [201, 201, 200])
    stored = await counts(lab)
    assert await post(lab, "/fhir", body) == (200, [200, 200, 200])
    assert await counts(lab) == stored
    assert await standing_values(lab) == [4.0]
    assert await rejection_codes(lab) == []


async def test_a_batch_bundle_with_a_rejected_entry_sent_again_whole_is_a_resend(
    lab: Lab,
) -> None:
    body = bundle("batch", [obs("W-1", 20), obs("W-1", 4, "corrected"), furlongs("BAD-1")])
    assert await post(lab, "/fhir", body) == (200, [201, 201, 422])
    assert await post(lab, "/fhir", body) == (200, [200, 200, 422])  # the entry as alone
    assert await standing_values(lab) == [4.0]
    assert await rejection_codes(lab) == ["unconvertible-unit"] * 2


async def test_a_transaction_resent_once_its_other_patient_is_enrolled_stores_their_result(
    lab: Lab, database: str
) -> None:
    """The resend README asks labs to make after a late enrolment: its stored entries are
    duplicates, the newly enrolled subject's result is stored."""
    body = bundle("transaction", [obs("E-1", 20), obs("E-1", 4, "corrected"),
                                  obs("E-2", 55, mrn=NOT_ENROLLED)])  # fmt: skip
    assert await post(lab, "/fhir", body) == (200, [201, 201, 200])
    enrolment = subject_enrolled("S-LATE-9")
    hmac = hospital_id_hmac(subject_hmac_key(lab.settings), NOT_ENROLLED)
    enrolment = enrolment.model_copy(
        update={"payload": {**enrolment.payload, "hospital_id_hmac": hmac}}
    )
    enroller = await migrated_pool(database, "enroller")
    await record(enroller, TRIAL_SUBJECTS, [enrolment], commit=True)

    async def read() -> bool:
        query = "SELECT 1 FROM enrolled_subjects WHERE subject_id = 'S-LATE-9'"
        return bool(await lab.pool.fetchval(query))

    await relay_until(lab, enroller, read)
    assert await post(lab, "/fhir", body) == (200, [200, 200, 201])
    query = "SELECT value FROM results WHERE subject_id = 'S-LATE-9'"
    assert [row["value"] for row in await lab.pool.fetch(query)] == [55.0]
    assert await standing_values(lab) == [4.0, 55.0]


async def test_a_transaction_sent_twice_into_one_commit_batch_is_a_resend_the_second_time(
    lab: Lab,
) -> None:
    """The lab timed out and resent while its first send was still queued: both are planned
    in one batch, the second after the first stored its versions."""
    body = bundle("transaction", [obs("Q-1", 20), obs("Q-1", 4, "corrected")])
    assert (await post(lab, "/fhir/Observation", obs("Q-0", 1)))[0] == 201
    batches = "SELECT count(*) FROM committed_batches"
    before = await lab.pool.fetchval(batches)
    # a correction waits on the chain lock, holding the committer; the two sends queue
    correction = obs("Q-0", 2, "corrected")
    async with committer_held(lab, lambda: post(lab, "/fhir/Observation", correction)) as held:
        first = await queued(lab, lambda: post(lab, "/fhir", body))
        second = await queued(lab, lambda: post(lab, "/fhir", body))
    assert (await held)[0] == 201
    assert await first == (200, [201, 201])
    assert await second == (200, [200, 200])
    assert await lab.pool.fetchval(batches) - before == 2  # the held one, then both sends
    assert await standing_values(lab) == [2.0, 4.0]
    assert await rejection_codes(lab) == []


@pytest.fixture
async def small_batches(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    """lab-ingestion committing at most 8 messages a batch: a Bundle of more is split, as
    one of more than 256 entries is by default (a Bundle may hold 1,000)."""
    async with running_lab(settings.model_copy(update={"ingest_batch_size": 8}), database) as lab:
        yield lab


async def test_a_batch_bundle_split_between_commit_batches_sent_again_whole_is_a_resend(
    small_batches: Lab,
) -> None:
    lab = small_batches
    others = [obs(f"B-{i}", 10 + i) for i in range(10)]
    versions = [obs("Z-1", 20), obs("Z-1", 4, "corrected"), obs("Z-1", 6, "corrected")]
    # the versions of Z-1 in three commit batches (8 entries or more apart)
    body = bundle("batch", [versions[0], *others, versions[1], *others[:7], versions[2]])
    first = await post(lab, "/fhir", body)
    assert first == (200, [201] * 12 + [200] * 7 + [201])  # B-0 to B-6 again: duplicates
    stored = await counts(lab)
    assert await post(lab, "/fhir", body) == (200, [200] * 20)
    assert await counts(lab) == stored
    assert await rejection_codes(lab) == []


async def test_a_stale_version_after_the_bundles_own_new_one_is_refused_in_any_commit_batch(
    small_batches: Lab,
) -> None:
    """The Bundle's own new version, stored in an earlier commit batch, was not received
    before it: the stale version after it is refused as when sent alone."""
    lab = small_batches
    stored = [obs("Y-1", 20), obs("Y-1", 4, "corrected")]
    assert await post(lab, "/fhir", bundle("batch", stored)) == (200, [201, 201])
    newer = obs("Y-1", 7, "corrected")
    others = [obs(f"A-{i}", 10 + i) for i in range(10)]
    answer = await post(lab, "/fhir", bundle("batch", [newer, *others, stored[0], newer]))
    assert answer == (200, [201] * 11 + [422, 200])
    assert await rejection_codes(lab) == ["ambiguous-version"]


@pytest.mark.parametrize(
    "sent",
    [
        "older version alone",  # a partial resend
        "correction before the final result",  # reordered: the older version last
        "a new version after the stored ones",
        "one entry changed",  # same identifier, other value
    ],
)
async def test_a_transaction_that_is_not_its_earlier_send_again_is_refused_whole(
    lab: Lab, sent: str
) -> None:
    final, corrected, other = obs("O-1", 20), obs("O-1", 4, "corrected"), obs("O-2", 7)
    answer = await post(lab, "/fhir", bundle("transaction", [final, corrected, other]))
    assert answer == (200, [201, 201, 201])
    stored = await counts(lab)
    resources = {
        "older version alone": [final],
        "correction before the final result": [corrected, other, final],
        "a new version after the stored ones": [final, corrected, obs("O-1", 9, "corrected")],
        "one entry changed": [final, corrected, obs("O-2", 8)],
    }[sent]
    status, _ = await post(lab, "/fhir", bundle("transaction", resources))
    assert status == 422
    assert await counts(lab) == stored
    assert await standing_values(lab) == [4.0, 7.0]


async def test_a_transaction_resent_in_another_order_keeping_each_results_last_is_a_resend(
    lab: Lab,
) -> None:
    final, corrected, other = obs("P-1", 20), obs("P-1", 4, "corrected"), obs("P-2", 7)
    assert await post(lab, "/fhir", bundle("transaction", [final, corrected, other])) == (
        200, [201, 201, 201],
    )  # fmt: skip
    stored = await counts(lab)
    assert await post(lab, "/fhir", bundle("transaction", [other, final, corrected])) == (
        200, [200, 200, 200],
    )  # fmt: skip
    assert await counts(lab) == stored
    assert await rejection_codes(lab) == []
