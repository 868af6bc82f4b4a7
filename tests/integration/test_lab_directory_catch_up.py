"""A result sent the moment lab-ingestion starts, for a subject enrolled while it was down
(review 114).

The enrolment waits on `trial.subjects.v1`; the service starts, and a laboratory flushing its
queue sends at once. Until the subject directory's consumer has applied what the topic held
at start, a patient not found is answered AR "resend", nothing kept (it was answered AA
"patient not enrolled, discarded", and lost: the enrolment read a quarter of a second later
was too soon to be reported late). An enrolled patient's result is stored meanwhile, and
/readyz says not ready until the directory caught up. Here the directory's write is held (a
lock on its table) so that the window lasts as long as the test needs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg
import pytest

from cachexia.services import service_definition
from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import TRIAL_SUBJECTS
from shared.runtime import ServiceRuntime
from shared.secrets import subject_hmac_key
from shared.settings import PlatformSettings
from tests.factories import subject_enrolled
from tests.integration.lab_fixtures import MRN, MllpClient, msa, obx, oru
from tests.integration.messaging_fixtures import (
    ends_within,
    make_relay,
    migrated_pool,
    read_topic,
    record,
    wait_until,
)
from tests.integration.test_lab_ingestion import running_lab

pytestmark = pytest.mark.integration

NEW_MRN = "MRN7001"
NEW_SUBJECT = "S-R1"
RESEND = "patient not found while the subject directory catches up; nothing stored, resend"


async def enrol_while_down(settings: PlatformSettings, database: str) -> None:
    """S-R1 enrolled and on the topic while lab-ingestion is stopped."""
    enroller = await migrated_pool(database, "enroller")
    try:
        hmac = hospital_id_hmac(subject_hmac_key(settings), NEW_MRN)
        envelope = subject_enrolled(NEW_SUBJECT)
        envelope = envelope.model_copy(
            update={"payload": {**envelope.payload, "hospital_id_hmac": hmac}}
        )
        await record(enroller, TRIAL_SUBJECTS, [envelope], commit=True)
        stopping = asyncio.Event()
        relay = asyncio.ensure_future(
            make_relay(enroller, settings.kafka_servers, "enroller").run(stopping)
        )
        await read_topic(settings.kafka_servers, TRIAL_SUBJECTS, 2)  # S-100's and S-R1's
        stopping.set()
        await ends_within(15, relay)
    finally:
        await enroller.close()


async def readiness(settings: PlatformSettings) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{settings.lab_ingestion_http_port}/readyz"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json()


async def metric_value(settings: PlatformSettings, name: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    url = f"http://127.0.0.1:{settings.lab_ingestion_http_port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        text = await response.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


async def test_a_result_sent_at_start_for_a_subject_enrolled_meanwhile_is_never_discarded(
    settings: PlatformSettings, database: str
) -> None:
    async with running_lab(settings, database):
        pass  # migrated, the allow-list and S-100 in place; stopped
    await enrol_while_down(settings, database)
    holder = await asyncpg.connect(database)  # the directory's write waits for this lock
    lock = holder.transaction()
    await lock.start()
    await holder.execute("LOCK TABLE lab_ingestion.enrolled_subjects IN EXCLUSIVE MODE")
    runtime = ServiceRuntime(service_definition("lab-ingestion"), settings)
    run = asyncio.ensure_future(runtime.run(install_signal_handlers=False))
    client: MllpClient | None = None
    try:
        await asyncio.wait_for(runtime.started.wait(), 60)
        client = await MllpClient.connect(settings.lab_ingestion_mllp_port)
        new = oru("RST-1", [obx("1988-5", "85", "mg/L")], mrn=NEW_MRN, order="ORD-R1")
        assert msa(await client.exchange(new))[1:4] == ["AR", "RST-1", RESEND]
        known = oru("RST-2", [obx("1988-5", "12", "mg/L")], mrn=MRN, order="ORD-R2")
        assert msa(await client.exchange(known))[1:4] == [
            "AA", "RST-2", "accepted; 1 result(s) stored",
        ]  # fmt: skip
        status, report = await readiness(settings)
        assert (status, report["checks"]["subject_directory"]) == (503, False)
        assert await metric_value(settings, "lab_messages_resend_asked_total") == 1
        assert runtime.pool is not None
        kept = await runtime.pool.fetchval(
            "SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM rejections)"
        )
        assert kept == 1  # RST-2's: nothing of the message answered "resend"

        await lock.rollback()  # the directory applies S-R1's enrolment and catches up

        async def ready() -> bool:
            return (await readiness(settings))[0] == 200

        await wait_until(ready, timeout=30)
        assert msa(await client.exchange(new))[1:4] == [
            "AA", "RST-1", "accepted; 1 result(s) stored",
        ]  # fmt: skip
        stored = await runtime.pool.fetchval(
            "SELECT count(*) FROM results WHERE subject_id = $1", NEW_SUBJECT
        )
        assert stored == 1
        assert await metric_value(settings, "lab_unmatched_patient_total") == 0
    finally:
        if client is not None:
            await client.close()
        if not holder.is_closed():
            await holder.close()
        runtime.stopping.set()
        await ends_within(30, run)
