"""lab-ingestion through its real interfaces (MLLP socket, HTTP) on PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cachexia.services import service_definition
from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.adapters.stored_ids import stored_id_hasher
from shared.auth import Role, create_token
from shared.contracts.envelope import Envelope
from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS, TRIAL_SUBJECTS
from shared.messaging.relay import OutboxRelay
from shared.runtime import ServiceRuntime
from shared.secrets import subject_hmac_key
from shared.settings import PlatformSettings
from tests.factories import subject_enrolled
from tests.integration.lab_fixtures import (
    BIRTH,
    MRN,
    VT,
    MllpClient,
    crp_observation,
    frame,
    msa,
    obx,
    oru,
    tables_holding,
)
from tests.integration.messaging_fixtures import (
    ends_within,
    make_relay,
    migrated_pool,
    read_topic_to_end,
    record,
    wait_until,
)

pytestmark = pytest.mark.integration

SUBJECT = "S-100"


@dataclass
class Lab:
    runtime: ServiceRuntime
    settings: PlatformSettings
    http: str
    lab_token: str
    site_token: str

    @property
    def pool(self) -> asyncpg.Pool:
        assert self.runtime.pool is not None
        return self.runtime.pool

    async def mllp(self) -> MllpClient:
        return await MllpClient.connect(self.settings.lab_ingestion_mllp_port)

    def stored_id(self, written: str) -> str:
        """A control id or result key as lab-ingestion stores it (its keyed hash)."""
        return stored_id_hasher(subject_hmac_key(self.settings))(written)

    async def metric(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples with ``labels`` on /metrics (0 when there is none)."""
        async with aiohttp.ClientSession() as http, http.get(f"{self.http}/metrics") as response:
            text = await response.text()
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    async def post_fhir(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer of a FHIR JSON ``body`` posted to ``path`` as the lab."""
        headers = {"Authorization": f"Bearer {self.lab_token}",
                   "Content-Type": "application/fhir+json"}  # fmt: skip
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.http}{path}", json=body, headers=headers) as answer,
        ):
            return answer.status, await answer.json()

    async def post_lab_results(self, body: dict[str, Any]) -> tuple[int, Any]:
        """The status and JSON answer of a lab-results ``body`` posted as the lab."""
        headers = {"Authorization": f"Bearer {self.lab_token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.http}/v1/lab-results", json=body, headers=headers) as answer,
        ):
            return answer.status, await answer.json(content_type=None)

    async def read(self, topic: str, at_least: int) -> list[bytes]:
        """Every value on ``topic``, once lab-ingestion's outbox is relayed: all it ever
        publishes of what it has committed so far (at least ``at_least`` values)."""
        pool = self.pool

        async def relayed() -> bool:
            return not await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")

        await wait_until(relayed)
        return await read_topic_to_end(self.settings.kafka_servers, topic, at_least)

    async def events(self, topic: str, at_least: int) -> list[Envelope]:
        return [Envelope.from_bytes(v) for v in await self.read(topic, at_least)]


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


@contextlib.asynccontextmanager
async def running_lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    runtime = ServiceRuntime(service_definition("lab-ingestion"), settings)
    running: list[asyncio.Future[None]] = [
        asyncio.ensure_future(runtime.run(install_signal_handlers=False))
    ]
    stopping = asyncio.Event()
    closing: list[asyncpg.Pool] = []
    try:  # a failed test too: nothing of this service is left running in the shared loop
        await asyncio.wait_for(runtime.started.wait(), 60)
        # started (ready) means the MLLP port listens: a connection is taken at once
        _, probe = await asyncio.open_connection("127.0.0.1", settings.lab_ingestion_mllp_port)
        probe.close()
        assert runtime.pool is not None
        async with runtime.pool.acquire() as conn:
            await add_source(conn, "LIS", "HOSP")
            lab_token = await create_token(conn, "central-lab", Role.LAB)
            site_token = await create_token(conn, "site", Role.SITE, site="CH-01")
        producer = await migrated_pool(database, "producer")
        closing.append(producer)
        enrolment = subject_enrolled(SUBJECT)
        hmac = hospital_id_hmac(subject_hmac_key(settings), MRN)
        enrolment = enrolment.model_copy(
            update={"payload": {**enrolment.payload, "hospital_id_hmac": hmac}}
        )
        await record(producer, TRIAL_SUBJECTS, [enrolment], commit=True)
        running.append(
            asyncio.ensure_future(
                make_relay(producer, settings.kafka_servers, "producer").run(stopping)
            )
        )
        pool = runtime.pool

        async def enrolled() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM enrolled_subjects"))

        await wait_until(enrolled, timeout=30)
        yield Lab(
            runtime,
            settings,
            f"http://127.0.0.1:{settings.lab_ingestion_http_port}",
            lab_token,
            site_token,
        )
    finally:
        stopping.set()
        runtime.stopping.set()
        try:
            await ends_within(30, *running)
        finally:
            for pool_to_close in closing:
                await pool_to_close.close()


CONVERSIONS = [
    # loinc, value, unit as sent, analyte, canonical value, canonical unit
    ("1988-5", "12.5", "mg/L", "crp", 12.5, "mg/L"),
    ("30522-7", "1.5", "mg/dL", "crp", 15.0, "mg/L"),
    ("1988-5", "95.24", "nmol/L", "crp", 10.0, "mg/L"),
    ("751-8", "2.1", "10*9/L", "neutrophils", 2.1, "10*9/L"),
    ("26499-4", "2.1", "10*3/uL", "neutrophils", 2.1, "10*9/L"),
    ("751-8", "2100", "/uL", "neutrophils", 2.1, "10*9/L"),
    ("777-3", "150", "x10\\S\\9/L", "platelets", 150.0, "10*9/L"),  # x10^9/L, escaped
    ("26515-7", "150", "K/uL", "platelets", 150.0, "10*9/L"),
    ("718-7", "12.5", "g/dL", "haemoglobin", 12.5, "g/dL"),
    ("718-7", "125", "g/L", "haemoglobin", 12.5, "g/dL"),
    ("718-7", "7.76", "mmol/L", "haemoglobin", 7.76 * 1.611, "g/dL"),
    ("1742-6", "30", "U/L", "alt", 30.0, "U/L"),
    ("1920-8", "0.5", "ukat/L", "ast", 30.0, "U/L"),
    ("1975-2", "1.2", "mg/dL", "bilirubin", 1.2, "mg/dL"),
    ("1975-2", "17.1", "umol/L", "bilirubin", 1.0, "mg/dL"),
    ("2160-0", "1.1", "mg/dL", "creatinine", 1.1, "mg/dL"),
    ("14682-9", "88.4", "µmol/L", "creatinine", 1.0, "mg/dL"),
]


# more rows, over MLLP (HL7 spellings: an escaped ^, a unit in OBX-6's alternate identifier)
MLLP_CONVERSIONS = [
    *CONVERSIONS,
    ("777-3", "150000", "/uL", "platelets", 150.0, "10*9/L"),
    ("777-3", "210", "10*9/L", "platelets", 210.0, "10*9/L"),
    ("777-3", "180", "10*3/uL", "platelets", 180.0, "10*9/L"),
    ("1742-6", "0.5", "ukat/L", "alt", 30.0, "U/L"),
    ("1920-8", "25", "U/L", "ast", 25.0, "U/L"),
    ("2160-0", "88.4", "umol/L", "creatinine", 1.0, "mg/dL"),
    ("751-8", "3.2", "10\\S\\9/L", "neutrophils", 3.2, "10*9/L"),  # 10^9/L, escaped
    ("751-8", "3.3", "G/L", "neutrophils", 3.3, "10*9/L"),
    ("1988-5", "7.5", "^^^mg/L^^UCUM", "crp", 7.5, "mg/L"),  # OBX-6.4, the alternate code
]
# a unit as its result keeps it (original_unit), where that is not the text sent
UNIT_AS_READ = {"x10\\S\\9/L": "x10^9/L", "10\\S\\9/L": "10^9/L", "^^^mg/L^^UCUM": "mg/L"}


async def test_every_analyte_and_unit_is_normalised_stored_and_emitted(lab: Lab) -> None:
    observations = [
        obx(loinc, value, unit, sub_id=str(i))
        for i, (loinc, value, unit, *_) in enumerate(MLLP_CONVERSIONS)
    ]
    observations.append(obx("2345-7", "5.5", "mmol/L", sub_id="glucose"))  # not a trial analyte
    client = await lab.mllp()
    ack = await client.exchange(oru("ALL-1", observations))
    await client.close()
    assert msa(ack)[1:3] == ["AA", "ALL-1"], ack

    rows = await lab.pool.fetch(
        "SELECT result_id, result_key, analyte, value, unit, original_value, original_unit"
        " FROM results ORDER BY result_key"
    )
    assert len(rows) == len(MLLP_CONVERSIONS)
    by_key = {r["result_key"]: r for r in rows}  # keys are stored as their keyed hashes
    events = await lab.events(LAB_RESULTS, len(MLLP_CONVERSIONS))
    assert len(events) == len(MLLP_CONVERSIONS)
    assert {e.subject_id for e in events} == {SUBJECT}
    assert all(e.payload["status"] == "final" for e in events)
    published = {str(e.payload["result_id"]): e.payload for e in events}
    for i, (loinc, sent, unit_sent, analyte, value, unit) in enumerate(MLLP_CONVERSIONS):
        row = by_key[lab.stored_id(f"ORD1|{loinc}|{i}")]
        original = (sent, UNIT_AS_READ.get(unit_sent, unit_sent))
        assert (row["analyte"], row["unit"]) == (analyte, unit)
        assert row["value"] == pytest.approx(value, rel=1e-6)
        assert (row["original_value"], row["original_unit"]) == original
        event = published[str(row["result_id"])]  # what consumers read of that result
        assert (event["analyte"], event["unit"], event["loinc"]) == (analyte, unit, loinc)
        assert event["value"] == pytest.approx(value, rel=1e-6), (i, event)
        assert (event["original_value"], event["original_unit"]) == original


async def test_corrected_cancelled_and_preliminary_results(lab: Lab) -> None:
    client = await lab.mllp()
    assert msa(await client.exchange(oru("C-1", [obx("1988-5", "40", "mg/L")])))[1] == "AA"
    assert (
        msa(await client.exchange(oru("C-2", [obx("1988-5", "35", "mg/L", status="C")])))[1] == "AA"
    )
    assert msa(await client.exchange(oru("C-3", [obx("1988-5", "", "", status="D")])))[1] == "AA"
    prelim = oru("C-4", [obx("718-7", "11", "g/dL", status="P")], order="ORD2")
    assert msa(await client.exchange(prelim))[1] == "AA"
    prelim_2 = oru("C-5", [obx("718-7", "12", "g/dL", status="P")], order="ORD3")
    assert msa(await client.exchange(prelim_2))[1] == "AA"
    withdrawn = oru("C-6", [obx("718-7", "", "", status="X")], order="ORD3")
    assert msa(await client.exchange(withdrawn))[1] == "AA"  # a preliminary can be cancelled
    await client.close()

    events = await lab.events(LAB_RESULTS, 3)
    kinds = [(e.event_type, e.payload.get("status")) for e in events]
    assert kinds == [
        ("LabResultRecorded", "final"),
        ("LabResultRecorded", "corrected"),
        ("LabResultCancelled", None),
    ]
    original, correction, cancel = (e.payload for e in events)
    assert correction["supersedes_result_id"] == original["result_id"]
    assert cancel["cancelled_result_id"] == correction["result_id"]
    assert cancel["reason"] == "deleted"
    stored = await lab.pool.fetch(
        "SELECT status, cancelled_at IS NOT NULL AS cancelled FROM results ORDER BY recorded_at"
    )
    assert [(r["status"], r["cancelled"]) for r in stored] == [
        ("F", True),  # deleting the result withdraws its every version
        ("C", True),
        ("P", False),
        ("P", True),  # cancelled quietly: it was never emitted
    ]


async def test_a_final_result_resent_after_its_correction_never_replaces_it(lab: Lab) -> None:
    """F 40, C 4, then the original F 40 again under a new MSH-10 (a delayed copy), and an
    F 41: only a correction changes a final result (HL7 table 0085), so the correction
    stands; the copy is a duplicate (read from the database: the chain's earlier versions),
    the changed value is rejected."""
    client = await lab.mllp()
    acks = []
    for control_id, value, status in (
        ("L-1", "40", "F"), ("L-2", "4", "C"), ("L-3", "40", "F"), ("L-4", "41", "F"),
    ):  # fmt: skip
        acks.append(
            await client.exchange(oru(control_id, [obx("1988-5", value, "mg/L", status=status)]))
        )
        await asyncio.sleep(0.05)  # each its own batch: the chain is read from the database
    await client.close()
    assert [msa(ack)[1] for ack in acks] == ["AA", "AA", "AA", "AE"]
    assert "duplicate" in msa(acks[2])[3]
    assert "as a correction (OBX-11 C" in msa(acks[3])[3]
    stored = await lab.pool.fetch("SELECT status, value FROM results ORDER BY recorded_at")
    assert [(r["status"], r["value"]) for r in stored] == [("F", 40.0), ("C", 4.0)]
    rejected = await lab.events(LAB_REJECTED, 1)
    assert rejected[0].payload["reason_code"] == "result-of-another-sample"
    assert rejected[0].payload["message_control_id"] is None  # ids may hold names
    events = await lab.events(LAB_RESULTS, 2)
    assert [(e.payload["status"], e.payload["value"]) for e in events] == [
        ("final", 40.0),
        ("corrected", 4.0),
    ]


async def test_a_final_result_resent_under_a_new_id_is_a_duplicate_of_the_stored_one(
    lab: Lab,
) -> None:
    """An interface engine resending a stored final result under a new MSH-10: the lookup
    reads what the standing result says, and the same content is a duplicate (its id kept
    with no result, so that its own resend is answered so again)."""
    client = await lab.mllp()
    result = [obx("1988-5", "40", "mg/L", ref="0-5")]
    first = await client.exchange(oru("R-1", result))
    await asyncio.sleep(0.1)  # another batch: the original is read from the database
    again = await client.exchange(oru("R-2", result))
    await client.close()
    assert msa(first)[1] == msa(again)[1] == "AA"
    assert "duplicate" in msa(again)[3]
    stored = await lab.pool.fetch(
        "SELECT control_id, result_count FROM messages ORDER BY received_at"
    )
    assert [tuple(r) for r in stored] == [(lab.stored_id("R-1"), 1), (lab.stored_id("R-2"), 0)]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1


async def test_duplicate_message_is_acknowledged_again_and_stored_once(lab: Lab) -> None:
    message = oru("DUP-1", [obx("1988-5", "50", "mg/L")])
    client = await lab.mllp()
    first, second = await client.exchange(message), await client.exchange(message)
    # the same id with another value is no resend: answered, never dropped unseen
    reused = await client.exchange(oru("DUP-1", [obx("1988-5", "55", "mg/L")]))
    await client.close()
    assert msa(first)[1:3] == msa(second)[1:3] == ["AA", "DUP-1"]
    assert msa(reused)[1] == "AE" and "used before" in msa(reused)[3]
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == 1
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    assert len(await lab.events(LAB_RESULTS, 1)) == 1


async def test_patient_not_enrolled_is_acknowledged_counted_and_discarded(lab: Lab) -> None:
    client = await lab.mllp()
    ack = await client.exchange(oru("NE-1", [obx("1988-5", "50", "mg/L")], mrn="MRN9999"))
    # the subject's result after it: once it is published, the relay went past the first
    later = await client.exchange(oru("NE-2", [obx("1988-5", "51", "mg/L")], order="ORD2"))
    await client.close()
    assert msa(ack)[1] == "AA" and "not enrolled" in msa(ack)[3], ack
    assert msa(later)[1:3] == ["AA", "NE-2"]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == 1
    async with aiohttp.ClientSession() as http, http.get(f"{lab.http}/metrics") as response:
        metrics = await response.text()
    assert 'lab_unmatched_patient_total{channel="mllp",source="LIS^HOSP"} 1.0' in metrics
    await assert_nothing_kept_of(lab, "MRN9999", published=1)


async def assert_nothing_kept_of(lab: Lab, number: str, published: int) -> None:
    """Nothing of a patient not enrolled (review 117: a copy kept "for inspection" passed):
    no rejection kept, neither the number nor its keyed hash in any table of the service's
    schema, nothing on lab.rejected.v1, and neither in any result event (``published``:
    the results the test's subject was sent after the patient's, so that the relay ran)."""
    keyed = hospital_id_hmac(subject_hmac_key(lab.settings), number)
    assert await lab.pool.fetch("SELECT reason_code, reason FROM rejections") == []
    for trace in (number, keyed):
        assert await tables_holding(lab.pool, trace) == [], trace
    results = await lab.read(LAB_RESULTS, published)
    assert len(results) == published
    assert await lab.read(LAB_REJECTED, 0) == []
    for trace in (number, keyed):
        assert not [event for event in results if trace.encode() in event], trace


async def test_a_sender_of_another_site_is_not_matched_to_this_sites_subject(lab: Lab) -> None:
    """The subject (site CH-01) and a patient of CH-02's hospital share a hospital number:
    a result from CH-02's laboratory is that other person's, never the subject's."""
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LIS", "CH02LAB", site_id="CH-02")
        await add_source(conn, "LIS", "CH01LAB", site_id="CH-01")
    client = await lab.mllp()
    other_site = await client.exchange(
        oru("SITE-2", [obx("1988-5", "50", "mg/L")], facility="CH02LAB")
    )
    own_site = await client.exchange(
        oru("SITE-1", [obx("1988-5", "51", "mg/L")], facility="CH01LAB")
    )
    await client.close()
    assert msa(other_site)[1] == msa(own_site)[1] == "AA"
    assert "not enrolled" in msa(other_site)[3]
    stored = await lab.pool.fetch("SELECT source, subject_id FROM results")
    assert [(r["source"], r["subject_id"]) for r in stored] == [("LIS^CH01LAB", SUBJECT)]


async def test_each_durable_batch_write_is_timed(lab: Lab) -> None:
    client = await lab.mllp()
    for i in range(3):
        assert msa(await client.exchange(oru(f"T-{i}", [obx("1988-5", "12", "mg/L")])))[1] == "AA"
    await client.close()
    async with aiohttp.ClientSession() as http, http.get(f"{lab.http}/metrics") as response:
        metrics = await response.text()
    # one message at a time on one connection: three batches, each written before its ACK
    assert "lab_commit_duration_seconds_count 3.0" in metrics


@pytest.mark.parametrize(
    ("message", "reason_part"),
    [
        (oru("AE-1", [obx("2345-7", "5.5", "mmol/L")]), "no result of a trial analyte"),
        (oru("AE-1", [obx("1988-5", "12", "U/L")]), "U/L"),
        (oru("AE-1", [obx("1988-5", "12", "mg/L", observed="")], order_time=""), "collect"),
        (oru("AE-1", [obx("1988-5", "twelve", "mg/L")]), "not a plain decimal"),
    ],
)
async def test_unusable_results_are_answered_ae_with_reason_and_kept(
    lab: Lab, message: str, reason_part: str
) -> None:
    client = await lab.mllp()
    ack = await client.exchange(message)
    await client.close()
    fields = msa(ack)
    assert fields[1:3] == ["AE", "AE-1"], ack
    assert reason_part.lower() in fields[3].lower()
    assert "\rERR|" in ack
    rejection = await lab.pool.fetchrow("SELECT reason_code, payload FROM rejections")
    assert rejection is not None
    assert MRN not in rejection["payload"] and "DOE" not in rejection["payload"]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    rejected = await lab.events(LAB_REJECTED, 1)
    assert rejected[0].payload["reason_code"] == rejection["reason_code"]


async def test_unknown_sender_is_rejected_ar(lab: Lab) -> None:
    client = await lab.mllp()
    ack = await client.exchange(oru("UNK-1", [obx("1988-5", "50", "mg/L")], application="ROGUE"))
    await client.close()
    assert msa(ack)[1:3] == ["AR", "UNK-1"]
    assert "allow-list" in msa(ack)[3]
    assert await lab.pool.fetchval("SELECT reason_code FROM rejections") == "unknown-source"


async def test_a_training_message_is_rejected_ar_and_never_stored(lab: Lab) -> None:
    """MSH-11 T (a laboratory's training system) sent to the trial's production platform."""
    training = oru("TRAIN-1", [obx("1988-5", "50", "mg/L")]).replace("|P|2.5.1", "|T|2.5.1")
    client = await lab.mllp()
    ack = await client.exchange(training)
    await client.close()
    assert msa(ack)[1:3] == ["AR", "TRAIN-1"]
    assert "|202^" in ack.split("\r")[2]
    assert await lab.pool.fetchval("SELECT reason_code FROM rejections") == (
        "unsupported-processing-id"
    )
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0


async def test_committed_events_are_relayed_at_once_not_at_the_next_poll(
    settings: PlatformSettings, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lab-ingestion's outbox has no NOTIFY trigger (migration 0004): the unit of work wakes
    the relay itself. The message is sent once the relay has found the outbox empty and
    waits for its next poll (sent before the relay's first read, it was published by that
    read, wake-up or not); with a 60 s poll, only the wake-up publishes it within 8 s (the
    relay's first read comes seconds before the service is ready: a 10 s poll came within
    the 8 s)."""
    found_nothing: dict[int, asyncio.Event] = defaultdict(asyncio.Event)  # by relay
    publish_batch = OutboxRelay.publish_batch

    async def noting_an_empty_read(relay: OutboxRelay) -> int:
        published = await publish_batch(relay)
        if published == 0:  # it waits now: for a wake-up, or for its next poll
            found_nothing[id(relay)].set()
        return published

    monkeypatch.setattr(OutboxRelay, "publish_batch", noting_an_empty_read)
    slow_poll = settings.model_copy(update={"outbox_poll_seconds": 60.0})
    async with running_lab(slow_poll, database) as lab:
        triggers = "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'outbox'::regclass"
        assert await lab.pool.fetchval(triggers) == 0
        relay = lab.runtime.relay
        assert relay is not None
        await asyncio.wait_for(found_nothing[id(relay)].wait(), 30)
        client = await lab.mllp()
        try:
            ack = await client.exchange(oru("WAKE-1", [obx("1988-5", "12", "mg/L")]))
        finally:
            await client.close()
        assert msa(ack)[1] == "AA", ack

        async def published() -> bool:
            unpublished = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            return bool(await lab.pool.fetchval(unpublished) == 0)

        await wait_until(published, timeout=8)  # well under the poll
        assert [e.payload["analyte"] for e in await lab.events(LAB_RESULTS, 1)] == ["crp"]


async def test_an_iso_8859_1_message_is_acknowledged_in_its_own_bytes(lab: Lab) -> None:
    """MSA-2 echoes MSH-10 byte for byte: a sender in ISO 8859-1 matches its ACK."""
    client = await lab.mllp()
    message = oru("\u00c44", [obx("1988-5", "20", "mg/L")], order="LATIN1")
    await client.send(frame(message, encoding="latin-1"))
    block = await asyncio.wait_for(client.reader.readuntil(b"\x1c\r"), 15)
    await client.close()
    assert b"MSA|AA|\xc44|" in block


async def test_framing_split_reads_pipelining_garbage_and_truncation(lab: Lab) -> None:
    client = await lab.mllp()
    data = frame(oru("SPLIT-1", [obx("1988-5", "20", "mg/L")], separator="\r\n"))
    for part in (data[:7], data[7:60], data[60:]):  # one message over three TCP writes
        await client.send(part)
        await asyncio.sleep(0.05)
    assert msa(await client.ack())[1:3] == ["AA", "SPLIT-1"]

    pipelined = b"".join(
        frame(oru(f"PIPE-{i}", [obx("1988-5", str(20 + i), "mg/L")], order=f"P{i}", separator="\n"))
        for i in range(3)
    )
    await client.send(pipelined)  # several messages on one connection, one write
    assert [msa(await client.ack())[2] for _ in range(3)] == ["PIPE-0", "PIPE-1", "PIPE-2"]

    await client.send(b"this is not MLLP\x1c\r")
    garbage = msa(await client.ack())
    assert garbage[1] == "AR" and "VT" in garbage[3]
    await client.send(VT + b"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|2026||ORU^R01|TRUNC")
    await client.close()  # closed in the middle of a frame: nobody to answer, but kept

    async def truncation_kept() -> bool:
        reasons = await lab.pool.fetch("SELECT reason FROM rejections")
        return any("truncated" in r["reason"] for r in reasons)

    await wait_until(truncation_kept, timeout=10)
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 4


async def test_nul_bytes_are_rejected_and_kept_not_resent_for_ever(lab: Lab) -> None:
    """PostgreSQL's text cannot hold NUL: a message carrying one could never be stored, and
    was answered "internal error, resend" on every resend. It is malformed, and kept."""
    client = await lab.mllp()
    ack = await client.exchange(oru("NUL-1", [obx("1988-5", "12\x00", "mg/L")]))
    assert msa(ack)[1:3] == ["AR", "NUL-1"] and "NUL" in msa(ack)[3]
    await client.send(b"garbage\x00more\x1c\r")  # a frame without <VT>, with a NUL
    assert msa(await client.ack())[1] == "AR"
    await client.close()
    body = b'{"message_id": "J-NUL", "patient": {"identifier": "x\\u0000"}}'
    headers = {"Authorization": f"Bearer {lab.lab_token}", "Content-Type": "application/json"}
    url = f"{lab.http}/v1/lab-results"
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as got:
        assert got.status == 400 and "NUL" in await got.text()
    payloads = [r["payload"] for r in await lab.pool.fetch("SELECT payload FROM rejections")]
    assert len(payloads) == 3
    assert sum("\\x00" in p for p in payloads) == 1  # kept as the visible escape
    assert "[redacted]" in payloads  # the frame without an MSH segment: nothing of its text
    assert MRN not in "".join(payloads)


async def test_http_channels_need_the_lab_role(lab: Lab) -> None:
    hl7 = oru("HTTP-1", [obx("1988-5", "30", "mg/L")])
    fhir = {
        "resourceType": "Observation",
        "id": "crp-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": MRN}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {
            "value": 3.1,
            "unit": "mg/dL",
            "system": "http://unitsofmeasure.org",
            "code": "mg/dL",
        },
    }
    body: dict[str, Any] = {
        "message_id": "J-1",
        "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [{"result_id": "R1", "loinc": "777-3", "value": "180", "unit": "10*9/L",
                     "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}],
    }  # fmt: skip
    lab_auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{lab.http}/v1/hl7", data=hl7) as anonymous:
            assert anonymous.status == 401
        async with http.post(
            f"{lab.http}/v1/hl7", data=hl7, headers={"Authorization": f"Bearer {lab.site_token}"}
        ) as site:
            assert site.status == 403
        async with http.post(f"{lab.http}/v1/hl7", data=hl7, headers=lab_auth) as ack:
            assert ack.status == 200
            assert msa(await ack.text())[1:3] == ["AA", "HTTP-1"]
        async with http.post(
            f"{lab.http}/fhir/Observation", json=fhir, headers=lab_auth
        ) as created:
            assert created.status == 201, await created.text()
            assert (await created.json())["resourceType"] == "OperationOutcome"
        async with http.post(
            f"{lab.http}/fhir/Observation", json={"resourceType": "Observation"}, headers=lab_auth
        ) as invalid:
            assert invalid.status == 400
            assert (await invalid.json())["resourceType"] == "OperationOutcome"
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            # a result of its own: the same content under another id would be a duplicate
            "entry": [{"resource": {**fhir, "id": "crp-2", "identifier": [{"value": "crp-2"}]}}],
        }
        async with http.post(f"{lab.http}/fhir", json=bundle, headers=lab_auth) as batch:
            assert batch.status == 200
            assert (await batch.json())["entry"][0]["response"]["status"].startswith("201")
        async with http.post(f"{lab.http}/v1/lab-results", json=body, headers=lab_auth) as accepted:
            assert accepted.status == 202, await accepted.text()
        async with http.post(
            f"{lab.http}/v1/lab-results", data=b"{oops", headers=lab_auth
        ) as broken:
            assert broken.status == 400
        second_unusable = {**body, "message_id": "J-2", "results": [
            {**body["results"][0], "result_id": "R2"},
            {**body["results"][0], "result_id": "R3", "unit": "furlongs"},
        ]}  # fmt: skip
        async with http.post(
            f"{lab.http}/v1/lab-results", json=second_unusable, headers=lab_auth
        ) as unusable:
            assert unusable.status == 422
            problem = await unusable.json()
        assert problem["detail"].startswith("results[1]: unconvertible-unit: "), problem
    values = {
        (r["analyte"], r["value"])
        for r in await lab.pool.fetch("SELECT analyte, value FROM results")
    }
    assert values == {("crp", 30.0), ("crp", 31.0), ("platelets", 180.0)}
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 3


async def test_no_phi_leaves_the_edge(lab: Lab) -> None:
    client = await lab.mllp()
    await client.exchange(oru("PHI-1", [obx("1988-5", "50", "mg/L")]))
    await client.exchange(oru("PHI-2", [obx("1988-5", "50", "furlongs")]))
    # message ids some laboratory systems build from the hospital number: stored masked
    built = await client.exchange(oru(f"{MRN}-3", [obx("1988-5", "51", "mg/L")], order="O3"))
    assert msa(built)[1:3] == ["AA", f"{MRN}-3"]  # the ACK echoes MSH-10 as sent
    await client.exchange(oru(f"{MRN}-4", [obx("1988-5", "51", "furlongs")], order="O4"))
    await client.exchange("MSH|^~\\&|LIS|HOSP|broken\rPID|1||" + MRN + "||DOE^JOHN||" + BIRTH)
    await client.close()
    stored = await _everything_stored(lab.pool)
    for phi in (MRN, "DOE", "JOHN", BIRTH, "Main St", "SMITH", "+41311234567"):
        assert phi not in stored, phi
    published = json.dumps([e.payload for e in await lab.events(LAB_RESULTS, 1)])
    published += json.dumps([e.payload for e in await lab.events(LAB_REJECTED, 3)])
    for phi in (MRN, "DOE", BIRTH):
        assert phi not in published


async def _everything_stored(pool: asyncpg.Pool) -> str:
    rows = []
    for table in ("messages", "results", "rejections", "outbox", "dead_letters"):
        rows += [dict(r) for r in await pool.fetch(f"SELECT * FROM {table}")]
    return json.dumps(
        rows,
        default=lambda v: (
            bytes(v).decode(errors="replace") if isinstance(v, bytes | memoryview) else str(v)
        ),
    )


async def test_fhir_transaction_is_all_or_nothing_and_batch_is_per_entry(lab: Lab) -> None:
    entries = [
        {"resource": crp_observation("T-1", "mg/L")},
        {"resource": crp_observation("T-2", "U/L")},  # CRP in U/L cannot be converted
    ]
    invalid = {"resource": {**crp_observation("T-3", "mg/L"), "valueQuantity": {"value": "x"}}}
    other = {"resource": {"resourceType": "Medication", "id": "m1"}}
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with aiohttp.ClientSession() as http:
        transaction = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        async with http.post(f"{lab.http}/fhir", json=transaction, headers=headers) as response:
            assert response.status == 422, await response.text()
            assert response.content_type == "application/fhir+json"
            outcome = await response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "processing"
        # the U/L one, and its element the reason names (the unit)
        assert outcome["issue"][0]["expression"] == ["Bundle.entry[1].resource.valueQuantity"]
        assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
        assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 1

        transaction["entry"] = [*entries, invalid]
        async with http.post(f"{lab.http}/fhir", json=transaction, headers=headers) as response:
            assert response.status == 400, await response.text()
            outcome = await response.json()
        expressions = [i["expression"] for i in outcome["issue"]]
        assert expressions == [["Bundle.entry[2].resource.valueQuantity.value"]]
        assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 2

        batch = {"resourceType": "Bundle", "type": "batch", "entry": [*entries, invalid, other]}
        async with http.post(f"{lab.http}/fhir", json=batch, headers=headers) as response:
            assert response.status == 200, await response.text()
            response_bundle = await response.json()
    assert response_bundle["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in response_bundle["entry"]]
    assert [s.split()[0] for s in statuses] == ["201", "422", "400", "400"]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    rejections = await lab.pool.fetch(
        "SELECT reason_code, reason, payload FROM rejections ORDER BY received_at OFFSET 2"
    )
    by_code = sorted((r["reason_code"], r["reason"], r["payload"]) for r in rejections)
    assert [code for code, _, _ in by_code] == [
        "malformed-message", "unconvertible-unit", "unsupported-message-type",
    ]  # fmt: skip
    _, reason, payload = by_code[0]
    assert reason.startswith("Bundle.entry[2].resource.valueQuantity.value: ")
    assert "T-3" in payload and "T-1" not in payload  # its own entry only
    assert MRN not in await _everything_stored(lab.pool)


async def test_fhir_correction_is_stored_and_supersedes_the_final_result(lab: Lab) -> None:
    final = crp_observation("FC-1", "mg/L")  # 20 mg/L
    corrected = crp_observation("FC-1", "mg/L") | {"status": "corrected"}
    corrected["valueQuantity"] = {"value": 25, "unit": "mg/L", "code": "mg/L"}
    headers = {"Authorization": f"Bearer {lab.lab_token}"}
    async with aiohttp.ClientSession() as http:
        for resource in (final, corrected):
            async with http.post(
                f"{lab.http}/fhir/Observation", json=resource, headers=headers
            ) as response:
                assert response.status == 201, await response.text()
    stored = await lab.pool.fetch("SELECT status, value FROM results ORDER BY recorded_at")
    assert [(r["status"], r["value"]) for r in stored] == [("F", 20.0), ("C", 25.0)]
    events = await lab.events(LAB_RESULTS, 2)
    original, correction = (e.payload for e in events)
    assert (original["status"], original["value"]) == ("final", 20.0)
    assert (correction["status"], correction["value"]) == ("corrected", 25.0)
    assert correction["supersedes_result_id"] == original["result_id"]
