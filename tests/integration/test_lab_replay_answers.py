"""What a lab is told of a message the service failed on (review 128): "kept, do not
resend" only when ``cachexia replay`` will store its kept copy; "resend" when the redaction
changed what the replay reads as the message (a sender, an order number). Over real MLLP and
the real replay command; the fixture patient is DOE^JOHN, born 1958-02-14."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest

from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.service_layer.batch_reading import SOURCES_TTL_SECONDS
from services.lab_ingestion.service_layer.unprocessable import REASON, REASON_NOT_REPLAYABLE
from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_replay import cli, lab, poisoned, rejection_of

pytestmark = pytest.mark.integration
__all__ = ["lab"]  # the fixture, used by name

CRP = [obx("1988-5", "42", "mg/L")]


async def _failed(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, message: str, control_id: str
) -> tuple[str, uuid.UUID, str, Callable[[], None]]:
    """The message sent over MLLP while the service fails on it: its ACK, its rejection's
    id and kept copy, and the function that fixes the fault."""
    fix = poisoned(monkeypatch)
    client = await lab.mllp()
    ack = await client.exchange(message)
    await client.close()
    rejection = await rejection_of(lab, control_id)
    copy = await lab.pool.fetchval(
        "SELECT payload FROM rejections WHERE rejection_id = $1", rejection
    )
    return ack, rejection, copy, fix


async def _allow(lab: Lab, application: str, facility: str) -> None:
    async with lab.pool.acquire() as conn:
        await add_source(conn, application, facility)
    await asyncio.sleep(SOURCES_TTL_SECONDS + 0.1)


async def test_a_hospital_whose_name_holds_the_patients_name_is_replayed(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``STJOHNS`` for patient John was kept as ``ST[redacted]S``: told not to resend, then
    refused ``unknown-source`` on replay, nothing stored."""
    await _allow(lab, "LIS", "STJOHNS")
    answer, rejection, copy, fix = await _failed(
        lab, monkeypatch, oru("POISON-J1", CRP, facility="STJOHNS"), "POISON-J1"
    )
    assert msa(answer)[1] == "AE" and REASON in answer
    assert copy.split("\r")[0].startswith("MSH|^~\\&|LIS|STJOHNS|")
    fix()
    assert await cli(lab, "replay", rejection) == 0
    assert "stored: 1 result(s)" in capsys.readouterr().out
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1


async def test_an_unknown_hospital_whose_name_holds_the_patients_name_is_named(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    client = await lab.mllp()
    ack = await client.exchange(oru("SJ-2", CRP, facility="STJOHNS"))
    await client.close()
    assert msa(ack)[1] == "AR" and "'LIS\\S\\STJOHNS'" in ack, ack
    rejection = await rejection_of(lab, "SJ-2")
    await _allow(lab, "LIS", "STJOHNS")
    assert await cli(lab, "replay", rejection) == 0
    assert "stored: 1 result(s)" in capsys.readouterr().out


async def test_a_timestamp_order_number_holding_the_birth_date_as_ddmmyy_is_replayed(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``20261120140258``: its time of day 14:02:58 is 14.02.58, the patient's birth date
    as DDMMYY; cut from the kept copy, the replay refused it after "do not resend"."""
    answer, rejection, copy, fix = await _failed(
        lab, monkeypatch, oru("POISON-T1", CRP, order="20261120140258"), "POISON-T1"
    )
    assert msa(answer)[1] == "AE" and REASON in answer
    assert "|20261120140258|" in copy
    fix()
    assert await cli(lab, "replay", rejection) == 0
    assert "stored: 1 result(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("control_id", "options"),
    [
        ("POISON-O1", {"order": "ORD19580214"}),  # the birth date run into the order number
        ("POISON-O2", {"order": "JOHN-7"}),  # a name's word in it
        ("POISON-S1", {"facility": "JOHN"}),  # the sender named as the patient is
        ("POISON-S2", {"application": "LIS19580214"}),  # the birth date run into the sender
    ],
)
async def test_a_copy_the_redaction_changed_is_answered_resend_never_do_not_resend(
    lab: Lab,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    control_id: str,
    options: dict[str, str],
) -> None:
    """A copy that cannot replay as the message: the lab is asked to resend it, and the
    replay indeed refuses it or rejects it again (it was "do not resend" before)."""
    application = options.get("application", "LIS")
    facility = options.get("facility", "HOSP")
    if (application, facility) != ("LIS", "HOSP"):
        await _allow(lab, application, facility)
    message = oru(control_id, CRP, **options)
    answer, rejection, copy, fix = await _failed(lab, monkeypatch, message, control_id)
    assert msa(answer)[1] == "AE" and REASON_NOT_REPLAYABLE in answer, answer
    assert "do not resend" not in answer
    assert "[redacted]" in copy
    fix()
    await cli(lab, "replay", rejection)
    capsys.readouterr()
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
