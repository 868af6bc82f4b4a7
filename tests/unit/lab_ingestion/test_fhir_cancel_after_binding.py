"""A FHIR `cancelled` after its token was bound to a sender is refused, never a silent
no-op that withdraws nothing (review 67).

Two of today's changes meet here:
- 3263c77: a token bound to one sender delivers FHIR as that sender (before: as
  ``<token name>^FHIR``). README ("Upgrading"): results the token stored as
  ``<token name>^FHIR`` stay under that sender, and "a correction of them from the token is
  then refused `unknown-corrected-result` (kept)", so that the operator notices and adds
  ``<token name>^FHIR`` to the token's senders.
- f0b83b4: an X under a result key that "never held anything" is a no-op (accepted, nothing
  withdrawn). The check is per (source, result key).

A laboratory cancelling (FHIR ``cancelled`` = X: "results cannot be obtained") a result it
stored before the binding is now answered 200 "accepted", nothing is withdrawn, nothing is
kept as a rejection: the cancelled CRP keeps standing on lab.results.v1 and keeps driving
CRP-guided dosing. Before f0b83b4 this X was refused (like the correction the README
promises is refused); the source change makes the key look "never used".
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


@pytest.mark.parametrize("status", ["cancelled", "entered-in-error"])
async def test_a_cancellation_after_binding_the_token_is_not_silently_accepted(
    status: str,
) -> None:
    """entered-in-error (D) is refused as the README says a correction is (control);
    cancelled (X) is not."""
    db = FakeDatabase(enrolled={hash_identifier(MRN): "S-1"})
    tokens = RebindableTokens()
    submit = _submit(db)
    final = observation()
    cancelled: dict[str, Any] = observation(status=status, valueQuantity=None)
    async with lab_client(submit, tokens=tokens) as client:
        created = await client.post("/fhir/Observation", json=final, headers=LAB)
        assert created.status == 201, await created.text()
        standing = db.standing("central-lab^FHIR", "urn:lis|R-1")
        assert standing is not None
        # the token is bound to its laboratory's one sender (README: FHIR names no sender)
        tokens.senders = frozenset({"LIS^HOSP"})
        answer = await client.post("/fhir/Observation", json=cancelled, headers=LAB)
        body = await answer.text()
    still = db.standing("central-lab^FHIR", "urn:lis|R-1")
    withdrawn = still is None
    refused = answer.status == 422  # kept as unknown-corrected-result
    assert withdrawn or refused, (
        f"the lab's `cancelled` was answered {answer.status} ({body}), nothing was kept as a "
        "rejection, and the CRP it cancels still stands (published, driving dosing): "
        f"{still.result.value if still else None} {still.result.unit if still else ''}"
    )
