"""A lab token's FHIR results are kept under ``<token name>^FHIR`` whatever its binding: a
token bound to one sender after it stored results corrects, cancels and resends them as
before, while the bound sender's site, time zone and identifier authority apply.

Review 67: with FHIR kept under the bound sender (as 3263c77 had it), a lab cancelling
(``cancelled`` = X) a CRP it stored before the binding found nothing under the new key: 200,
nothing withdrawn, the CRP kept driving CRP-guided dosing; a correction was refused and a
resend stored a second time (a second point in the CRP series).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.lab_ingestion.service_layer.commands import Command, IngestOutcome
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from shared.auth import Principal, Role
from tests.unit.lab_ingestion.route_fakes import (
    LAB,
    LAB_TOKEN,
    MRN,
    FakeSubmit,
    FakeTokens,
    hash_identifier,
    lab_client,
    observation,
)
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, FakeUnitOfWork


class RebindableTokens(FakeTokens):
    def __init__(self) -> None:
        super().__init__()
        self.senders: frozenset[str] | None = None  # unbound at first

    async def authenticate(self, token: str) -> Principal | None:
        if token == LAB_TOKEN:
            return Principal(uuid.UUID(int=1), "central-lab", Role.LAB, self.senders)
        return await super().authenticate(token)


def _submit(db: FakeDatabase) -> FakeSubmit:
    ingest = BatchIngestor(lambda: FakeUnitOfWork(db), hash_identifier)

    class Real(FakeSubmit):
        async def __call__(self, command: Command) -> IngestOutcome:
            self.commands.append(command)
            (outcome,) = await ingest([command])
            return outcome

    return Real()


async def _stored_then_bound(db: FakeDatabase, second: dict[str, Any]) -> tuple[int, str]:
    """POST the CRP unbound, bind the token to LIS^HOSP, POST ``second``: its answer."""
    tokens = RebindableTokens()
    async with lab_client(_submit(db), tokens=tokens) as client:
        created = await client.post("/fhir/Observation", json=observation(), headers=LAB)
        assert created.status == 201, await created.text()
        assert db.standing("central-lab^FHIR", "urn:lis|R-1") is not None
        tokens.senders = frozenset({"LIS^HOSP"})  # the laboratory's one sender
        answer = await client.post("/fhir/Observation", json=second, headers=LAB)
        return answer.status, await answer.text()


@pytest.mark.parametrize("status", ["cancelled", "entered-in-error"])
async def test_a_cancellation_after_binding_withdraws_what_the_token_stored_before(
    status: str,
) -> None:
    db = FakeDatabase(enrolled={hash_identifier(MRN): "S-1"})
    cancellation = observation(status=status, valueQuantity=None)
    answer, text = await _stored_then_bound(db, cancellation)
    assert answer == 200, text
    assert db.standing("central-lab^FHIR", "urn:lis|R-1") is None


async def test_a_correction_after_binding_supersedes_what_the_token_stored_before() -> None:
    db = FakeDatabase(enrolled={hash_identifier(MRN): "S-1"})
    amended = observation(
        status="amended", valueQuantity={"value": 2.5, "unit": "mg/dL", "code": "mg/dL"}
    )
    answer, text = await _stored_then_bound(db, amended)
    assert answer == 201, text
    head = db.standing("central-lab^FHIR", "urn:lis|R-1")
    assert head is not None and head.status == "C" and head.result.value == 25.0  # mg/L
    assert head.supersedes_result_id == db.results[0].result_id


async def test_a_resend_after_binding_is_stored_once() -> None:
    db = FakeDatabase(enrolled={hash_identifier(MRN): "S-1"})
    answer, text = await _stored_then_bound(db, observation())
    assert answer in (200, 201), text
    assert len(db.results) == 1
    assert [r.source for r in db.results] == ["central-lab^FHIR"]


async def test_the_bound_senders_site_still_decides_whose_result_it_is() -> None:
    """The subject is enrolled at CH-01; the token is bound to a CH-02 laboratory's sender
    (review 62): the result is nobody's there, discarded, nothing stored."""
    db = FakeDatabase(enrolled={hash_identifier(MRN): "S-1"}, sender_site="CH-02")
    tokens = RebindableTokens()
    tokens.senders = frozenset({"LIS^HOSP"})
    async with lab_client(_submit(db), tokens=tokens) as client:
        answer = await client.post("/fhir/Observation", json=observation(), headers=LAB)
        assert answer.status == 200, await answer.text()  # accepted: not the trial's
    assert db.results == []
