"""A birth date written in digits day first (``14021958`` for PID-7 ``19580214``), bare or
run into an id, in a rejected message (fixer 128, review 126).

What went wrong: the redaction searched the birth date as ``YYYYMMDD``, ISO, ``DD.MM.YYYY``
and other spellings, but not ``DDMMYYYY``: MSH-10 ``14021958``, an order number
``ORD14021958``, OBX-5 ``geb. 14021958`` and an NTE ``DOB 14021958`` were kept in the
rejection's copy (and the control id kept with it).

What happens now: ``DDMMYYYY`` and the other digit-only spellings (``MMDDYYYY``, ``DDMMYY``,
``YYMMDD``, ``MMDDYY``) are searched as the others are, in every redactor; the kept copy,
the rejection's control id and reason and ``lab.rejected.v1`` hold none of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.contracts.topics import LAB_REJECTED
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import BIRTH, msa, obx, oru, payload_searched
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

YEAR, MONTH, DAY = BIRTH[:4], BIRTH[4:6], BIRTH[6:]
DAY_FIRST = f"{DAY}{MONTH}{YEAR}"  # 14021958
SPELLINGS = [DAY_FIRST, f"{MONTH}{DAY}{YEAR}", f"{DAY}{MONTH}{YEAR[2:]}"]


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


async def test_a_day_first_birth_date_is_in_no_kept_copy_nor_event(lab: Lab) -> None:
    messages = {  # MSH-10 -> OBX-5, text in a CRP: refused (no number)
        DAY_FIRST: f"geb. {DAY_FIRST}",
        f"LIS{DAY_FIRST}": f"DOB {SPELLINGS[1]}",
        f"X{SPELLINGS[2]}": f"DOB {SPELLINGS[2]}",
    }
    client = await lab.mllp()
    answers = []
    for control_id, value in messages.items():
        message = oru(control_id, [obx("1988-5", value, "mg/L")], order=f"ORD{DAY_FIRST}")
        note = f"NTE|1||born {value.split()[-1]}, CRP high\r"
        answers.append(await client.exchange(message + note))
    await client.close()
    assert [msa(ack)[1] for ack in answers] == ["AE"] * 3, answers
    rows = await lab.pool.fetch(
        "SELECT control_id, source, reason, payload FROM rejections ORDER BY received_at"
    )
    assert len(rows) == 3
    for row in rows:
        segments = {line[:3]: line.split("|") for line in row["payload"].split("\r") if line}
        assert "[redacted]" in segments["MSH"][9], row["payload"]
        assert segments["OBX"][5].endswith("[redacted]"), row["payload"]
        assert segments["NTE"][3] == "born [redacted], CRP high", row["payload"]
        for spelled in SPELLINGS:
            assert spelled not in row["payload"], row["payload"]
            assert spelled not in (row["control_id"] or "") + row["reason"] + row["source"]
    for event in await lab.events(LAB_REJECTED, 3):
        for spelled in SPELLINGS:
            assert spelled not in payload_searched(event.payload), event.payload
