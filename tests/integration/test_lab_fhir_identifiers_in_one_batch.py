"""A FHIR version listing its result's identifiers in another order, or a new one in front
(review 170), finds the result an earlier message of its commit batch or an earlier entry
of its Bundle planned, as it finds one stored before: the same answers, one result stored,
a withdrawal or correction applied. Before, only stored results were looked at: the
version sent beside its result was a second copy of it (which a later withdrawal of the
first left standing), and a withdrawal or correction beside it was refused. Through
POST /fhir (transaction, batch) and /fhir/Observation on real PostgreSQL and broker."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.lab_batches import committer_held, queued
from tests.integration.lab_fixtures import crp_observation
from tests.integration.test_lab_fhir_versions import (
    bundle,
    post,
    rejection_codes,
    standing_values,
)
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

WITHDRAWN = "entered-in-error"


def identified(
    *identifiers: str, status: str = "final", value: float = 20, hour: str = "09"
) -> dict[str, Any]:
    """The patient's CRP of 20 November 08:00 under ``identifiers`` (urn:lab), issued at
    ``hour``."""
    observation = crp_observation("unused")
    observation["identifier"] = [{"system": "urn:lab", "value": i} for i in identifiers]
    observation["status"] = status
    observation["issued"] = f"2026-11-20T{hour}:00:00+01:00"
    if status == WITHDRAWN:
        del observation["valueQuantity"]
    else:
        observation["valueQuantity"]["value"] = value
    return observation


FINAL = identified("A1")
# the same result's versions naming it by its identifier A1 behind a new one
AGAIN = identified("B1", "A1")
AMENDED = identified("B1", "A1", status="amended", value=30, hour="10")
WITHDRAWAL = identified("B1", "A1", status=WITHDRAWN, hour="10")
# (the version, its answer, the values standing after it): as when sent after the final
AFTER_THE_FINAL = {
    "again": (AGAIN, 200, [20.0]),
    "amended": (AMENDED, 201, [30.0]),
    "withdrawn": (WITHDRAWAL, 200, []),
}


async def stored_count(lab: Lab) -> int:
    return int(await lab.pool.fetchval("SELECT count(*) FROM results"))


async def corrected_and_withdrawn_under_a1(lab: Lab, others: list[float]) -> None:
    """The lab corrects, then withdraws, the result under A1 alone: nothing of it stands
    (``others``: the values of other results standing)."""
    corrected = identified("A1", status="amended", value=300, hour="11")
    assert (await post(lab, "/fhir/Observation", corrected))[0] == 201
    assert await standing_values(lab) == sorted([*others, 300.0])
    withdrawal = identified("A1", status=WITHDRAWN, hour="12")
    assert (await post(lab, "/fhir/Observation", withdrawal))[0] == 200
    assert await standing_values(lab) == others


@pytest.mark.parametrize("kind", ["transaction", "batch"])
@pytest.mark.parametrize("version", sorted(AFTER_THE_FINAL))
async def test_a_version_beside_its_result_in_a_bundle_is_a_version_of_it(
    lab: Lab, kind: str, version: str
) -> None:
    body, answer, standing = AFTER_THE_FINAL[version]
    assert await post(lab, "/fhir", bundle(kind, [FINAL, body])) == (200, [201, answer])
    assert await standing_values(lab) == standing
    assert await rejection_codes(lab) == []
    if version == "again":  # stored once: its withdrawal under A1 leaves nothing standing
        assert await stored_count(lab) == 1
        await corrected_and_withdrawn_under_a1(lab, [])


@pytest.mark.parametrize("version", sorted(AFTER_THE_FINAL))
async def test_two_posts_planned_in_one_commit_batch_answer_as_one_after_the_other(
    lab: Lab, version: str
) -> None:
    body, answer, standing = AFTER_THE_FINAL[version]
    assert (await post(lab, "/fhir/Observation", identified("Q-0", value=1)))[0] == 201
    batches = "SELECT count(*) FROM committed_batches"
    before = await lab.pool.fetchval(batches)
    # a correction waits on the chain lock, holding the committer; the two posts queue
    correction = identified("Q-0", status="amended", value=2)
    async with committer_held(lab, lambda: post(lab, "/fhir/Observation", correction)) as held:
        first = await queued(lab, lambda: post(lab, "/fhir/Observation", FINAL))
        second = await queued(lab, lambda: post(lab, "/fhir/Observation", body))
    assert (await held)[0] == 201
    assert [(await first)[0], (await second)[0]] == [201, answer]
    assert await lab.pool.fetchval(batches) - before == 2  # the held one, then both posts
    assert await standing_values(lab) == sorted([2.0, *standing])
    assert await rejection_codes(lab) == []
    if version == "again":
        assert await stored_count(lab) == 3  # Q-0's two versions, and it once
        await corrected_and_withdrawn_under_a1(lab, [2.0])


@pytest.mark.parametrize("kind", ["transaction", "batch"])
async def test_a_version_stays_under_its_own_identifier_its_bundle_stored_a_result_under(
    lab: Lab, kind: str
) -> None:
    """A1 stored before; a Bundle's final B1, then its correction naming B1 and A1: B1's
    correction, as one after the other, never A1's (A1 was read as stored, B1 not yet)."""
    assert (await post(lab, "/fhir/Observation", FINAL))[0] == 201
    other_sample = identified("B1", value=40)
    other_sample["effectiveDateTime"] = "2026-11-19T08:00:00+01:00"
    correction = identified("B1", "A1", status="amended", value=45, hour="10")
    correction["effectiveDateTime"] = "2026-11-19T08:00:00+01:00"
    assert await post(lab, "/fhir", bundle(kind, [other_sample, correction])) == (200, [201, 201])
    assert await standing_values(lab) == [20.0, 45.0]
    assert await rejection_codes(lab) == []


@pytest.mark.parametrize("kind", ["transaction", "batch"])
@pytest.mark.parametrize("version", sorted(AFTER_THE_FINAL))
async def test_a_version_beside_a_withdrawn_subjects_earlier_result_is_a_version_of_it(
    lab: Lab, kind: str, version: str
) -> None:
    """Review 175: the subject withdrawn on 25 November, a sample of 20 November sent late
    is still the trial's; a version beside it in its Bundle found nothing (the planned
    result's patient was looked up among the subjects still enrolled only): a second copy,
    a correction refused, a withdrawal answered "not enrolled" with the value standing."""
    await lab.pool.execute(
        "UPDATE enrolled_subjects SET withdrawn_at = '2026-11-25T00:00:00Z'"
        " WHERE subject_id = 'S-100'"
    )
    body, answer, standing = AFTER_THE_FINAL[version]
    assert await post(lab, "/fhir", bundle(kind, [FINAL, body])) == (200, [201, answer])
    assert await standing_values(lab) == standing
    assert await rejection_codes(lab) == []
