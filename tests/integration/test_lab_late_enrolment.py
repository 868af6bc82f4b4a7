"""A result for a subject whose enrolment lab-ingestion had not read yet (review 63).

The enrolling service recorded the enrolment, but lab-ingestion read it late (here its relay
ran a minute later: a broker outage, a relay backlog). A result for the subject arriving in
between is answered as about a patient not enrolled and discarded: nothing of a patient not
enrolled may be kept, so it cannot be held back. It is not silent: the enrolment, read after
a discard of its number, however soon, is counted (`lab_late_enrolments_total`, alert
LabLateEnrolment) and logged with the subject, so the site's laboratories are asked to
resend; the resent result is stored and published.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
import pytest

from shared.contracts.envelope import utc_now
from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import LAB_RESULTS, TRIAL_SUBJECTS
from shared.secrets import subject_hmac_key
from tests.factories import subject_enrolled
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.messaging_fixtures import make_relay, migrated_pool, record, wait_until
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

NEW_MRN = "MRN8800"
NEW_SUBJECT = "S-NEW-1"


async def test_an_enrolment_read_late_after_a_discard_is_reported_and_the_resend_stored(
    lab: Lab, database: str
) -> None:
    enrolment = subject_enrolled(NEW_SUBJECT)
    hmac = hospital_id_hmac(subject_hmac_key(lab.settings), NEW_MRN)
    enrolment = enrolment.model_copy(update={
        "payload": {**enrolment.payload, "hospital_id_hmac": hmac},
        "recorded_at": utc_now() - timedelta(minutes=1),  # recorded a minute ago, not relayed
    })  # fmt: skip
    enroller = await migrated_pool(database, "enroller")
    await record(enroller, TRIAL_SUBJECTS, [enrolment], commit=True)
    assert await lab.metric("lab_late_enrolments_total") == 0

    result = oru("RACE-1", [obx("1988-5", "85", "mg/L")], mrn=NEW_MRN, order="ORD-RACE")
    client = await lab.mllp()
    assert msa(await client.exchange(result))[1:4] == [
        "AA", "RACE-1", "accepted; patient not enrolled, discarded",
    ]  # fmt: skip

    async def reported() -> bool:
        return await lab.metric("lab_late_enrolments_total") == 1

    await relay_until(lab, enroller, reported)
    # the laboratory resends the subject's results since the enrolment was recorded
    assert msa(await client.exchange(result))[1:3] == ["AA", "RACE-1"]
    await client.close()
    (event,) = [e for e in await lab.events(LAB_RESULTS, 1) if e.subject_id == NEW_SUBJECT]
    assert event.payload["value"] == 85.0


async def test_an_enrolment_read_soon_after_its_number_was_discarded_is_reported_too(
    lab: Lab, database: str
) -> None:
    """Review 114: only enrolments read over 30 s after they were recorded were reported; one
    read a second after a discard of its own number lost that result silently."""
    enrolment = subject_enrolled(NEW_SUBJECT)
    hmac = hospital_id_hmac(subject_hmac_key(lab.settings), NEW_MRN)
    enrolment = enrolment.model_copy(
        update={"payload": {**enrolment.payload, "hospital_id_hmac": hmac}}
    )
    enroller = await migrated_pool(database, "enroller")
    await record(enroller, TRIAL_SUBJECTS, [enrolment], commit=True)  # recorded now
    client = await lab.mllp()
    result = oru("SOON-1", [obx("1988-5", "85", "mg/L")], mrn=NEW_MRN, order="ORD-SOON")
    assert msa(await client.exchange(result))[1:4] == [
        "AA", "SOON-1", "accepted; patient not enrolled, discarded",
    ]  # fmt: skip
    await client.close()

    async def reported() -> bool:
        return await lab.metric("lab_late_enrolments_total") == 1

    await relay_until(lab, enroller, reported)  # read within a second or two


async def test_an_enrolment_read_on_time_is_not_reported(lab: Lab, database: str) -> None:
    enroller = await migrated_pool(database, "enroller")
    await record(enroller, TRIAL_SUBJECTS, [subject_enrolled("S-ON-TIME")], commit=True)
    client = await lab.mllp()  # a patient not enrolled: discarded before the enrolment
    ack = await client.exchange(oru("OTHER-1", [obx("1988-5", "5", "mg/L")], mrn="X9"))
    assert msa(ack)[1] == "AA"
    await client.close()

    async def read() -> bool:
        query = "SELECT 1 FROM enrolled_subjects WHERE subject_id = 'S-ON-TIME'"
        return bool(await lab.pool.fetchval(query))

    await relay_until(lab, enroller, read)
    assert await lab.metric("lab_late_enrolments_total") == 0


async def relay_until(
    lab: Lab, enroller: asyncpg.Pool, condition: Callable[[], Awaitable[bool]]
) -> None:
    """Relay the enrolling service's outbox to the broker until ``condition`` holds."""
    stopping = asyncio.Event()
    relay = asyncio.create_task(
        make_relay(enroller, lab.settings.kafka_servers, "enroller").run(stopping)
    )
    try:
        await wait_until(condition, timeout=30)
    finally:
        stopping.set()
        await asyncio.wait_for(relay, 15)
        await enroller.close()
