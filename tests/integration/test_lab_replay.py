"""`cachexia rejection` and `cachexia replay` against the running lab-ingestion: a kept
HL7 rejection replayed once its cause is fixed, and what a replay refuses."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from cachexia.rejections import run_rejection_command
from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.domain.kept_copy import KEPT_COPY_REASON
from services.lab_ingestion.domain.model import LabMessage
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.service_layer import message_plans
from services.lab_ingestion.service_layer.batch_reading import SOURCES_TTL_SECONDS
from shared.contracts.topics import LAB_RESULTS
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, msa, obx, oru
from tests.integration.test_lab_ingestion import SUBJECT, Lab, running_lab

pytestmark = pytest.mark.integration


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


async def cli(lab: Lab, command: str, rejection_id: uuid.UUID, **options: object) -> int:
    args = argparse.Namespace(
        command=command, rejection_command=options.pop("sub", None),
        rejection_id=rejection_id, dry_run=options.pop("dry_run", False),
    )  # fmt: skip
    return await run_rejection_command(lab.settings, args)


async def rejection_of(lab: Lab, control_id: str) -> uuid.UUID:
    found = await lab.pool.fetchval(
        "SELECT rejection_id FROM rejections WHERE control_id = $1", control_id
    )
    assert found is not None
    return uuid.UUID(str(found))


async def unknown_senders_rejection(lab: Lab, control_id: str) -> uuid.UUID:
    """A CRP result from the sender NEW^HOSP, not (yet) on the allow-list: AR, kept."""
    client = await lab.mllp()
    await client.exchange(oru(control_id, [obx("1988-5", "42", "mg/L")], application="NEW"))
    await client.close()
    return await rejection_of(lab, control_id)


async def test_a_rejection_of_an_unknown_sender_is_replayed_once_the_sender_is_allowed(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await lab.mllp()
    ack = await client.exchange(oru("NEW-1", [obx("1988-5", "42", "mg/L")], application="NEW"))
    assert msa(ack)[1] == "AR"
    rejection = await rejection_of(lab, "NEW-1")

    # not yet allowed: rejected again, nothing stored, the rejection stays open
    assert await cli(lab, "replay", rejection) == 1
    assert "rejected again: unknown-source" in capsys.readouterr().out
    assert await lab.pool.fetchval("SELECT count(*) FROM rejections") == 1

    async with lab.pool.acquire() as conn:
        await add_source(conn, "NEW", "HOSP")
    assert await cli(lab, "replay", rejection, dry_run=True) == 0
    assert "replayable" in capsys.readouterr().out
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0

    assert await cli(lab, "replay", rejection) == 0
    assert "stored: 1 result(s)" in capsys.readouterr().out
    stored = await lab.pool.fetchrow("SELECT subject_id, value FROM results")
    assert (stored["subject_id"], stored["value"]) == (SUBJECT, 42.0)
    (event,) = await lab.events(LAB_RESULTS, 1)
    assert event.subject_id == SUBJECT and event.payload["value"] == 42.0
    replayed = await lab.pool.fetchval(
        "SELECT replayed_at IS NOT NULL FROM rejections WHERE rejection_id = $1", rejection
    )
    assert replayed

    assert await cli(lab, "replay", rejection) == 1  # once only
    assert "already replayed" in capsys.readouterr().err
    # the lab resends the original after all: a duplicate of the replayed message (once the
    # service has read the allow-list again: it reads it at most every SOURCES_TTL_SECONDS)
    await asyncio.sleep(SOURCES_TTL_SECONDS + 0.1)
    again = await client.exchange(oru("NEW-1", [obx("1988-5", "42", "mg/L")], application="NEW"))
    await client.close()
    assert "duplicate" in msa(again)[3]


async def test_a_kept_copy_sent_in_as_a_message_is_refused_with_a_reason(lab: Lab) -> None:
    """Its PID-3 is a keyed hash: hashed again it matched nobody, and the copy was answered
    "accepted; patient not enrolled" and discarded, silently."""
    client = await lab.mllp()
    await client.exchange(oru("NEW-2", [obx("1988-5", "42", "mg/L")], application="NEW"))
    copy = await lab.pool.fetchval("SELECT payload FROM rejections WHERE control_id = 'NEW-2'")
    assert MRN not in copy and "HMAC:" in copy
    ack = await client.exchange(copy.replace("|NEW|", "|LIS|", 1))
    await client.close()
    assert msa(ack)[1] == "AE"  # the content is unusable: no resend helps
    assert msa(ack)[3].removesuffix("...") in KEPT_COPY_REASON  # cut at a word (MSA-3)
    kept = await lab.pool.fetchval(
        "SELECT count(*) FROM rejections WHERE reason_code = 'kept-copy-of-a-rejection'"
    )
    assert kept == 1


async def test_a_copy_that_no_longer_reads_as_its_message_is_not_replayed(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    rejection = await unknown_senders_rejection(lab, "NEW-3")
    await lab.pool.execute(  # the copy changed (a scrubbed value, say): not what was sent
        "UPDATE rejections SET payload = replace(payload, '|42|', '|24|')"
    )
    async with lab.pool.acquire() as conn:
        await add_source(conn, "NEW", "HOSP")
    assert await cli(lab, "replay", rejection) == 1
    assert "does not read as the message did" in capsys.readouterr().err
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0


async def test_rejections_are_listed_and_shown_without_sql(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    rejection = await unknown_senders_rejection(lab, "NEW-4")
    listing = argparse.Namespace(
        command="rejection", rejection_command="list", source="NEW^HOSP",
        reason="unknown-source", since=None, open=True, limit=10,
    )  # fmt: skip
    assert await run_rejection_command(lab.settings, listing) == 0
    out = capsys.readouterr().out
    assert str(rejection) in out and "unknown-source" in out and "open" in out
    assert await cli(lab, "rejection", rejection, sub="show") == 0
    shown = capsys.readouterr().out
    assert "NEW-4" in shown and "HMAC:" in shown and MRN not in shown


def poisoned(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """A defect of the service that fails every message whose id starts with POISON (AE
    207, kept as ``processing-failed``), until the function returned is called."""
    planned = plan_results

    def broken(message: LabMessage, *args: object, **kwargs: object) -> object:
        if message.control_id.startswith("POISON"):
            raise RuntimeError("a defect of the service")
        return planned(message, *args, **kwargs)  # type: ignore[arg-type]  # passed through

    monkeypatch.setattr(message_plans, "plan_results", broken)
    return lambda: monkeypatch.setattr(message_plans, "plan_results", planned)


async def test_a_message_the_service_failed_on_is_replayed_once_the_fault_is_fixed(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answered AE 207 "kept, do not resend": the replay is what stores it in the end."""
    fix = poisoned(monkeypatch)
    client = await lab.mllp()
    ack = await client.exchange(oru("POISON-1", [obx("1988-5", "42", "mg/L")]))
    await client.close()
    assert msa(ack)[1] == "AE"
    rejection = await rejection_of(lab, "POISON-1")
    code = await lab.pool.fetchval(
        "SELECT reason_code FROM rejections WHERE rejection_id = $1", rejection
    )
    assert code == "processing-failed"
    fix()  # the fault is fixed
    assert await cli(lab, "replay", rejection) == 0
    assert "stored: 1 result(s)" in capsys.readouterr().out
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1


@pytest.mark.parametrize(("failing", "table", "statement"), [
    ("the mark", "rejections", "UPDATE"),
    ("the replay", "results", "INSERT"),
])  # fmt: skip
async def test_a_replay_and_its_mark_on_the_rejection_commit_together_or_not_at_all(
    lab: Lab, capsys: pytest.CaptureFixture[str], failing: str, table: str, statement: str
) -> None:
    """The mark was an UPDATE of its own after the replay committed: one that failed (the
    database gone between the two) left the message stored and its rejection open (a second
    replay then found it stored, "already stored: the lab resent it")."""
    rejection = await unknown_senders_rejection(lab, f"NEW-{statement}")
    async with lab.pool.acquire() as conn:
        await add_source(conn, "NEW", "HOSP")
    await lab.pool.execute(f"""
        CREATE FUNCTION refuse_in_test() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{failing} refused by the test'; END $$;
        CREATE TRIGGER refuse_in_test BEFORE {statement} ON {table}
            FOR EACH ROW EXECUTE FUNCTION refuse_in_test()""")
    with pytest.raises(asyncpg.RaiseError, match=f"{failing} refused by the test"):
        await cli(lab, "replay", rejection)
    assert capsys.readouterr().out == ""
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    assert await lab.pool.fetchval("SELECT count(*) FROM messages") == 0
    published = "SELECT count(*) FROM outbox WHERE topic = $1"
    assert await lab.pool.fetchval(published, LAB_RESULTS) == 0
    mark = "SELECT replayed_at, replay_outcome FROM rejections WHERE rejection_id = $1"
    assert tuple(await lab.pool.fetchrow(mark, rejection)) == (None, None)

    await lab.pool.execute(f"DROP TRIGGER refuse_in_test ON {table}")
    assert await cli(lab, "replay", rejection) == 0  # both, now
    assert "stored: 1 result(s)" in capsys.readouterr().out
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
    replayed_at, outcome = await lab.pool.fetchrow(mark, rejection)
    assert replayed_at is not None and outcome.startswith("stored: 1 result(s)")


def _closing(rejection_id: uuid.UUID, closed_as: str) -> argparse.Namespace:
    return argparse.Namespace(
        command="rejection", rejection_command="close", rejection_id=rejection_id,
        closed_as=closed_as,
    )  # fmt: skip


async def _open_listing(lab: Lab, capsys: pytest.CaptureFixture[str]) -> str:
    listing = argparse.Namespace(
        command="rejection", rejection_command="list", source=None, reason=None, since=None,
        open=True, limit=100,
    )  # fmt: skip
    capsys.readouterr()
    assert await run_rejection_command(lab.settings, listing) == 0
    return capsys.readouterr().out


async def test_a_rejection_no_replay_settles_is_closed_by_an_operator(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 197: a JSON (or FHIR) rejection is never replayed, so `rejection list --open`
    listed it forever, even after the lab resent the input. `rejection close --as resent`
    takes it off the open list; it is then neither closed again nor replayed, and a
    replayed rejection is not closed (it is settled already)."""
    result = {"result_id": "R-C1", "loinc": "1988-5", "value": "42", "unit": "mg/furlong",
              "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    body = {"message_id": "JSON-CLOSE-1", "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": MRN}, "results": [result]}  # fmt: skip
    status, _ = await lab.post_lab_results(body)
    assert status == 422
    found = await lab.pool.fetchval(  # a JSON rejection keeps no control id
        "SELECT rejection_id FROM rejections WHERE channel = 'json' AND reason_code = $1",
        "unconvertible-unit",
    )
    refused = uuid.UUID(str(found))
    hl7_refused = await unknown_senders_rejection(lab, "NEW-CLOSE-1")
    assert str(refused) in await _open_listing(lab, capsys)

    assert await run_rejection_command(lab.settings, _closing(refused, "resent")) == 0
    assert capsys.readouterr().out == f"{refused}: closed as resent\n"
    listed = await _open_listing(lab, capsys)
    assert str(refused) not in listed and str(hl7_refused) in listed
    assert await cli(lab, "rejection", refused, sub="show") == 0
    assert "(resent)" in capsys.readouterr().out
    row = await lab.pool.fetchrow(
        "SELECT closed_at, closed_as, replayed_at FROM rejections WHERE rejection_id = $1",
        refused,
    )
    assert row["closed_at"] is not None and row["closed_as"] == "resent"
    assert row["replayed_at"] is None

    # closed once: closing again fails, saying how it stands; an unknown id is a usage error
    assert await run_rejection_command(lab.settings, _closing(refused, "not-needed")) == 1
    assert "is not open: closed (resent)" in capsys.readouterr().err
    assert await run_rejection_command(lab.settings, _closing(uuid.uuid4(), "resent")) == 2

    # an HL7 rejection closed is not replayed, even once its cause is fixed
    assert await run_rejection_command(lab.settings, _closing(hl7_refused, "not-needed")) == 0
    async with lab.pool.acquire() as conn:
        await add_source(conn, "NEW", "HOSP")
    await asyncio.sleep(SOURCES_TTL_SECONDS + 0.5)
    assert await cli(lab, "replay", hl7_refused) == 1
    assert "closed by an operator" in capsys.readouterr().err
    assert await lab.pool.fetchval("SELECT replayed_at FROM rejections WHERE rejection_id = $1",
                                   hl7_refused) is None  # fmt: skip

    # a replayed rejection is settled: not closed
    client = await lab.mllp()
    await client.exchange(oru("NEW-CLOSE-2", [obx("1988-5", "42", "mg/L")], application="NEW3"))
    await client.close()
    replayed = await rejection_of(lab, "NEW-CLOSE-2")
    async with lab.pool.acquire() as conn:
        await add_source(conn, "NEW3", "HOSP")
    await asyncio.sleep(SOURCES_TTL_SECONDS + 0.5)
    assert await cli(lab, "replay", replayed) == 0
    assert await run_rejection_command(lab.settings, _closing(replayed, "resent")) == 1
    assert "is not open: replayed" in capsys.readouterr().err
