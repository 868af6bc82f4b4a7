"""Matching over the real MLLP service (review 114): a patient number written with
sub-components, another site's withdrawn subject, and patients enrolled again.

The lab fixture enrols S-100 under MRN4711 (site CH-01); its sender LIS^HOSP has no site."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.contracts.envelope import Envelope, make_envelope, utc_now
from shared.contracts.events.trial import SubjectWithdrawn
from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import TRIAL_SUBJECTS
from shared.secrets import subject_hmac_key
from shared.subject_handlers import ENROLLED_AFTER_WITHDRAWAL
from tests.factories import subject_enrolled
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.messaging_fixtures import make_relay, migrated_pool, record, wait_until
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration


def hl7_time(at: datetime) -> str:
    return at.strftime("%Y%m%d%H%M%S+0000")


def hmac_of(lab: Lab, number: str) -> str:
    return hospital_id_hmac(subject_hmac_key(lab.settings), number)


async def counts(lab: Lab) -> tuple[int, int]:
    results = await lab.pool.fetchval("SELECT count(*) FROM results")
    rejections = await lab.pool.fetchval("SELECT count(*) FROM rejections")
    return results, rejections


async def test_a_patient_number_with_sub_components_is_rejected_ar_never_matched(
    lab: Lab,
) -> None:
    """``MRN4711&5`` (an unescaped ``&``) was read as MRN4711, enrolled subject S-100's
    number, and the CRP stored as S-100's. Now the message is malformed (AR), kept with the
    number hashed whole (a replay of the copy matches nobody), its parts scrubbed."""
    client = await lab.mllp()
    ack = await client.exchange(
        oru("SUB-1", [obx("1988-5", "77", "mg/L")], pid3="MRN4711&5^^^HOSP^MR", order="ORD-S")
    )
    await client.close()
    assert msa(ack)[1] == "AR", ack
    assert "PID-3 holds sub-components" in msa(ack)[3]
    assert await counts(lab) == (0, 1)
    rejection = await lab.pool.fetchrow("SELECT reason_code, payload FROM rejections")
    assert rejection["reason_code"] == "malformed-message"
    payload = rejection["payload"]
    assert f"HMAC:{hmac_of(lab, 'MRN4711&5')}^^^HOSP^MR" in payload
    assert hmac_of(lab, "MRN4711") not in payload and "MRN4711" not in payload


async def test_a_stranger_numbered_as_another_sites_withdrawn_subject_is_discarded(
    lab: Lab,
) -> None:
    """S-W2 (site CH-02, MRN9900) was withdrawn a day ago. A patient of CH-01's hospital
    with the same number, not enrolled, is nobody's: discarded (nothing kept), even
    without a collection time, as for a number nobody was enrolled under."""
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LIS", "HOSP", site_id="CH-01")
        await conn.execute(
            "INSERT INTO enrolled_subjects (subject_id, site_id, site_timezone, "
            "hospital_id_hmac, day1, enrolled_at, withdrawn_at) VALUES ('S-W2', 'CH-02', "
            "'Europe/Zurich', $1, '2026-11-02', now() - interval '20 days', "
            "now() - interval '1 day')",
            hmac_of(lab, "MRN9900"),
        )
    await asyncio.sleep(2.5)  # a sender's settings are read again within 2 s
    client = await lab.mllp()
    acks = []
    for control_id, number in (("STR-1", "MRN9900"), ("STR-2", "MRN9901")):
        no_time = obx("1988-5", "12", "mg/L", observed="")
        message = oru(control_id, [no_time], mrn=number, order=f"O-{control_id}", order_time="")
        acks.append(msa(await client.exchange(message)))
    await client.close()
    assert [a[1] for a in acks] == ["AA", "AA"], acks
    assert all("not enrolled" in a[3] for a in acks), acks
    assert await counts(lab) == (0, 0)


async def publish(lab: Lab, database: str, events: list[Envelope]) -> None:
    """``events`` on trial.subjects.v1 through a relay, as the enrolling service sends
    them; returns once lab-ingestion's consumer has read every one."""
    enroller = await migrated_pool(database, "enroller")
    await record(enroller, TRIAL_SUBJECTS, events, commit=True)
    stop = asyncio.Event()
    relay = asyncio.ensure_future(
        make_relay(enroller, lab.settings.kafka_servers, "enroller").run(stop)
    )

    async def read() -> bool:
        found = await lab.pool.fetchval(
            "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])",
            [e.event_id for e in events],
        )
        return bool(found == len(events))

    try:
        await wait_until(read, 30)
    finally:
        stop.set()
        await asyncio.wait_for(relay, 15)
        await enroller.close()


def enrolment(subject_id: str, hmac: str, enrolled_at: datetime) -> Envelope:
    event = subject_enrolled(subject_id)
    payload = {**event.payload, "hospital_id_hmac": hmac, "enrolled_at": enrolled_at.isoformat()}
    return event.model_copy(update={"payload": payload})


def withdrawal(subject_id: str, at: datetime) -> Envelope:
    return make_envelope(
        SubjectWithdrawn(withdrawn_at=at, reason="consent withdrawn"),
        producer="dose-decision", subject_id=subject_id,
    )  # fmt: skip


async def test_a_rescreened_patient_under_a_new_subject_id_is_matched_by_new_samples(
    lab: Lab, database: str
) -> None:
    """S-RE (MRN5500) enrolled 30 days ago, withdrawn 20 days ago; the patient re-screened
    is S-RE2 (same number, same site), enrolled 2 days ago. A sample collected now is
    S-RE2's; one collected while S-RE was in the trial fits both enrolments (a screening
    sample may be S-RE2's): rejected subject-withdrawn (kept), never guessed."""
    now = utc_now()
    hmac = hmac_of(lab, "MRN5500")
    await publish(lab, database, [
        enrolment("S-RE", hmac, now - timedelta(days=30)),
        withdrawal("S-RE", now - timedelta(days=20)),
        enrolment("S-RE2", hmac, now - timedelta(days=2)),
    ])  # fmt: skip
    client = await lab.mllp()
    taken_now = hl7_time(now - timedelta(minutes=5))
    new = await client.exchange(oru(
        "RE-1", [obx("1988-5", "60", "mg/L", observed=taken_now)], mrn="MRN5500",
        order="ORD-RE1", order_time=taken_now,
    ))  # fmt: skip
    taken_then = hl7_time(now - timedelta(days=25))
    old = await client.exchange(oru(
        "RE-2", [obx("1988-5", "61", "mg/L", observed=taken_then)], mrn="MRN5500",
        order="ORD-RE2", order_time=taken_then,
    ))  # fmt: skip
    await client.close()
    assert msa(new)[1] == "AA" and "1 result" in msa(new)[3], new
    stored = await lab.pool.fetch("SELECT subject_id, value FROM results")
    assert [(r["subject_id"], r["value"]) for r in stored] == [("S-RE2", 60.0)]
    assert msa(old)[1] == "AE", old
    assert await lab.pool.fetchval("SELECT reason_code FROM rejections") == "subject-withdrawn"


async def test_a_withdrawn_subject_enrolled_again_is_dead_lettered_and_stays_withdrawn(
    lab: Lab, database: str
) -> None:
    """A withdrawal is final: S-RE enrolled again (after its withdrawal, same subject id)
    is a contract violation. It was applied silently (the withdrawal kept, the new
    enrolment unseen); now it is dead-lettered with its reason, and the withdrawal stands:
    a sample collected after it is discarded as nobody's."""
    now = utc_now()
    hmac = hmac_of(lab, "MRN5500")
    first = enrolment("S-RE", hmac, now - timedelta(days=30))
    again = enrolment("S-RE", hmac, now - timedelta(days=2))
    replayed = enrolment("S-RE", hmac, now - timedelta(days=30))  # the first, re-published
    await publish(lab, database, [first, withdrawal("S-RE", now - timedelta(days=20)), again,
                                  replayed])  # fmt: skip
    letters = await lab.pool.fetch("SELECT reason_code, reason FROM dead_letters")
    assert [r["reason_code"] for r in letters] == [ENROLLED_AFTER_WITHDRAWAL]
    assert "new subject id" in letters[0]["reason"]
    row = await lab.pool.fetchrow(
        "SELECT enrolled_at, withdrawn_at FROM enrolled_subjects WHERE subject_id = 'S-RE'"
    )
    assert row["withdrawn_at"] == now - timedelta(days=20)
    assert row["enrolled_at"] == now - timedelta(days=30)
    client = await lab.mllp()
    taken_now = hl7_time(now - timedelta(minutes=5))
    ack = await client.exchange(oru(
        "RE-3", [obx("1988-5", "60", "mg/L", observed=taken_now)], mrn="MRN5500",
        order="ORD-RE3", order_time=taken_now,
    ))  # fmt: skip
    await client.close()
    assert msa(ack)[1] == "AA" and "not enrolled" in msa(ack)[3], ack
    assert await counts(lab) == (0, 0)
