"""A rejection is settled once: by a replay or by an operator's close, never both (review 214).
The pure rules of its state, the replay refused when its transaction finds it settled, and
the close as the service layer makes it."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.closing_reasons import CLOSING_REASONS
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.domain.rejection_states import RejectionNotOpen, RejectionState
from services.lab_ingestion.service_layer.rejection_admin import close_rejection
from services.lab_ingestion.service_layer.replay import Replayer, ReplayRefused
from tests.unit.lab_ingestion.test_replay import RecordingIngest, kept, read_copy

AT = datetime(2026, 12, 7, 11, 27, 56, tzinfo=UTC)
MOMENTS = st.none() | st.datetimes(timezones=st.just(UTC))
STATES = st.builds(
    RejectionState, MOMENTS, MOMENTS, st.none() | st.sampled_from(sorted(CLOSING_REASONS))
)


@given(state=STATES)
def test_a_rejection_is_open_until_replayed_or_closed(state: RejectionState) -> None:
    why = state.why_not_open()
    assert state.open == (why is None) == (state.shown == "open")
    if state.replayed_at is not None:  # a replay's mark stands over anything else
        assert state.shown == "replayed" and why is not None
        assert why.startswith("already replayed at ")
    elif state.closed_at is not None:
        assert state.shown == f"closed ({state.closed_as})" and why is not None
        assert why.startswith("closed by an operator at ") and f"({state.closed_as})" in why


@given(state=STATES)
def test_a_replay_refuses_what_its_state_refuses(state: RejectionState) -> None:
    rejection = kept(replayed_at=state.replayed_at, closed_at=state.closed_at,
                     closed_as=state.closed_as)  # fmt: skip
    assert rejection.state == state
    if state.open:
        Replayer(read_copy, RecordingIngest()).check(rejection)
        return
    with pytest.raises(ReplayRefused) as refused:
        Replayer(read_copy, RecordingIngest()).check(rejection)
    assert str(refused.value) == state.why_not_open()


class SettledMeanwhile(RecordingIngest):
    """The ingest whose unit of work, committing, finds the rejection settled since the
    replay read it: rolled back, nothing stored."""

    def __init__(self, state: RejectionState | None) -> None:
        super().__init__()
        self.state = state

    async def __call__(self, commands: Any, **options: Any) -> Any:
        (command,) = commands
        raise RejectionNotOpen(command.rejection_id, self.state)


@pytest.mark.parametrize(
    ("state", "said"),
    [
        (RejectionState(None, AT, "not-needed"),
         "closed by an operator at 2026-12-07 11:27:56 UTC (not-needed), while this replay ran:"
         " this replay stored nothing"),
        (RejectionState(AT, None, None),
         "already replayed at 2026-12-07 11:27:56 UTC, while this replay ran: this replay"
         " stored nothing"),
        (None, "no longer kept, while this replay ran: this replay stored nothing"),
    ],
)  # fmt: skip
async def test_a_replay_whose_rejection_was_settled_meanwhile_is_refused(
    state: RejectionState | None, said: str
) -> None:
    with pytest.raises(ReplayRefused) as refused:
        await Replayer(read_copy, SettledMeanwhile(state)).replay(kept())
    assert str(refused.value) == said


class Store:
    """The rejections of the fake unit of work, by id."""

    def __init__(self, *kept: KeptRejection) -> None:
        self.kept = {k.rejection_id: k for k in kept}

    async def get(self, rejection_id: uuid.UUID) -> KeptRejection | None:
        return self.kept.get(rejection_id)

    async def close(self, rejection_id: uuid.UUID, closed_as: str) -> datetime | None:
        found = self.kept.get(rejection_id)
        if found is None or not found.state.open:
            return None
        self.kept[rejection_id] = dataclasses.replace(found, closed_at=AT, closed_as=closed_as)
        return AT


class FakeUnitOfWork:
    def __init__(self, store: Store) -> None:
        self.rejections = store
        self.committed = 0
        self.entered = 0

    async def __aenter__(self) -> Self:
        self.entered += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass

    async def commit(self) -> None:
        self.committed += 1


async def test_the_close_is_one_transaction_of_its_unit_of_work() -> None:
    rejection = kept()
    uow = FakeUnitOfWork(Store(rejection))
    closing = await close_rejection(uow, rejection.rejection_id, "resent")
    assert closing.closed and closing.closed_at == AT and closing.found is None
    assert (uow.entered, uow.committed) == (1, 1)
    again = await close_rejection(uow, rejection.rejection_id, "not-needed")
    assert not again.closed and again.found == RejectionState(None, AT, "resent")
    assert again.found is not None and again.found.shown == "closed (resent)"


async def test_a_replayed_rejection_is_not_closed_and_an_unknown_one_is_not_found() -> None:
    replayed = kept(replayed_at=AT)
    uow = FakeUnitOfWork(Store(replayed))
    closing = await close_rejection(uow, replayed.rejection_id, "not-needed")
    assert not closing.closed and closing.found is not None
    assert closing.found.shown == "replayed"
    unknown = await close_rejection(uow, uuid.uuid4(), "resent")
    assert not unknown.closed and unknown.found is None


async def test_a_closing_reason_is_one_of_the_fixed_words() -> None:
    uow = FakeUnitOfWork(Store(kept()))
    with pytest.raises(ValueError, match="no closing reason"):
        await close_rejection(uow, uuid.uuid4(), "the patient DOE asked")
    assert uow.entered == 0
