"""Review 107: every retry of a batch carries the same token, and each attempt plans the batch
afresh, so two attempts can plan it differently (here the allow-list is re-read between them:
a sender refused by the first is allowed by the second). The first attempt's commit is still
landing when the second asks, so the second plans and writes, waits for the landing commit,
and is cut off there (a lock timeout); the first then lands. The third attempt answered the
second's plan ("1 result(s) stored") for a batch that stored only the first's rejection: the
lab never resent it, and its result was lost. Now the write records which attempt committed
(migration 0027), and the retry answers that attempt's plan. The test is the reviewer's."""

from __future__ import annotations

from typing import Any

import pytest

from services.lab_ingestion.adapters.repository import LabRepository
from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from services.lab_ingestion.service_layer import batch_reading
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


async def test_a_retry_cut_off_behind_the_landing_commit_answers_what_landed(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_reading, "SOURCES_TTL_SECONDS", 0.0)  # re-read every attempt
    client = await lab.mllp()
    warm = await client.exchange(oru("WARM-1", [obx("1988-5", "40", "mg/L")]))
    assert msa(warm)[1] == "AA"  # the patient now remembered as enrolled (the fast path)

    real_commit = LabIngestionUnitOfWork.commit
    state: dict[str, Any] = {"attempt": 0}

    async def commit(self: LabIngestionUnitOfWork) -> None:
        state["attempt"] += 1
        if state["attempt"] == 1:  # the write reaches the server; its answer is lost
            staged, self.labs._staged = self.labs._staged, None
            events = self.outbox.take_pending()
            held = await lab.pool.acquire()
            transaction = held.transaction()
            await transaction.start()
            repository = LabRepository(held, self.labs._stored_id)
            repository._staged = staged
            await repository.write(events)  # still committing on the server
            state["held"] = (held, transaction)
            async with lab.pool.acquire() as conn:  # an operator allows the sender meanwhile
                await add_source(conn, "LIS2", "HOSP2")
            self._open = False
            raise ConnectionResetError("connection reset; the COMMIT is still landing")
        if state["attempt"] == 2:  # waits behind the landing commit, and is cut off
            await self.connection.execute("SET lock_timeout = '300ms'")
            try:
                await real_commit(self)
            finally:
                held, transaction = state.pop("held")
                await transaction.commit()  # the first attempt lands
                await lab.pool.release(held)
            return
        await real_commit(self)

    monkeypatch.setattr(LabIngestionUnitOfWork, "commit", commit)
    lost = oru(
        "LOST-1", [obx("1988-5", "77", "mg/L")], application="LIS2", facility="HOSP2",
        order="O-LOST",
    )  # fmt: skip
    ack = await client.exchange(lost)
    await client.close()
    stored = await lab.pool.fetchval("SELECT count(*) FROM results WHERE source = 'LIS2^HOSP2'")
    kept = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert state["attempt"] == 2  # the third attempt asked, and answered without a write
    # what landed: the first attempt's rejection of a sender not on the allow-list then
    assert (stored, [r["reason_code"] for r in kept]) == (0, ["unknown-source"])
    assert msa(ack)[1] == "AR", "answered what the committed attempt did not store"
