"""An unknown sender named with its patient's birth date or name (review 125).

What went wrong: MSH-3 ``LIS19580214`` (or MSH-4 ``H19580214``) in a message whose PID-7 is
``19580214``, from a sender not on the allow-list, was answered AR and kept with the birth
date in ``rejections.source``, its reason, the kept copy's MSH and ``lab.rejected.v1``: the
redaction found a birth date in MSH-3/4 only written whole, a number run in only as the
patient's number. And the answer said what the kept reason scrubbed: MSH-3 ``DOE JOHN`` was
answered ``sender 'DOE JOHN\\S\\HOSP' ...`` in MSA-3 and ERR-8 (interface engines log their
ACKs), a JSON body's facility ``MRN4711`` to a bound token ``sender 'LIS^MRN4711' ...``.

What happens now: MSH-3/4 are scrubbed as ids are (a name's word and the birth date's
spellings run into letters or digits too), an OID universal id kept whole; the answer says
the reason as it is kept. A listed sender named with digits (``LIS2024^HOSP01``) and one
named by OIDs are kept and stored as they are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.auth import Role, create_token
from shared.contracts.topics import LAB_REJECTED
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import BIRTH, MRN, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

CRP = obx("1988-5", "12", "mg/L")
OID = "2.16.840.1.113883.3.72.5.20"


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        async with lab.pool.acquire() as conn:
            await add_source(conn, "LIS2024", "HOSP01")
            await add_source(conn, OID, "HOSP")
        yield lab


def _err8(ack: str) -> str:
    return next(s for s in ack.split("\r") if s.startswith("ERR")).split("|")[8]


def _unescaped(text: str) -> str:
    return text.replace("\\S\\", "^").replace("\\E\\", "\\")


async def _post(lab: Lab, path: str, token: str, **body: Any) -> tuple[int, str]:
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.post(
        f"{lab.http}{path}", headers=auth, **body
    ) as answer:  # fmt: skip
        return answer.status, await answer.text()


async def _rejections(lab: Lab) -> list[dict[str, Any]]:
    rows = await lab.pool.fetch(
        "SELECT control_id, source, reason, payload FROM rejections ORDER BY received_at"
    )
    return [dict(row) for row in rows]


async def test_a_birth_date_run_into_an_unknown_senders_name_is_never_kept_nor_said(
    lab: Lab,
) -> None:
    async with lab.pool.acquire() as conn:
        bound = await create_token(conn, "bound-lab", Role.LAB, ["LIS^HOSP"])
    senders = {"A1": (f"LIS{BIRTH}", "HOSP"), "A2": ("LIS", f"H{BIRTH}"),
               "A3": (f"LIS{BIRTH}^{OID}^ISO", "HOSP")}  # fmt: skip
    answers = []
    client = await lab.mllp()
    for control_id, (application, facility) in senders.items():
        message = oru(control_id, [CRP], application=application, facility=facility)
        answers.append(await client.exchange(message))
    await client.close()
    for token, control_id in ((lab.lab_token, "H1"), (bound, "H2")):
        message = oru(control_id, [CRP], application=f"LIS{BIRTH}")
        status, ack = await _post(lab, "/v1/hl7", token, data=message)
        assert status in (400, 403), ack
        answers.append(ack)
    for ack in answers:
        assert msa(ack)[1] == "AR", ack
        assert BIRTH not in msa(ack)[3] and BIRTH not in _err8(ack), ack
    rows = await _rejections(lab)
    assert len(rows) == 5
    for row in rows:
        assert BIRTH not in row["source"] and BIRTH not in row["reason"], row
        assert BIRTH not in row["payload"].split("\r")[0], row["payload"]
    assert rows[2]["source"] == "LIS[redacted]^HOSP"  # the namespace id, scrubbed
    assert f"^{OID}^ISO|" in rows[2]["payload"].split("\r")[0]  # the OID kept whole
    for event in await lab.events(LAB_REJECTED, 5):
        assert BIRTH not in str(event.payload["source"]), event.payload
        assert BIRTH not in event.payload["reason"], event.payload


async def test_the_answer_names_the_sender_as_the_kept_reason_does(lab: Lab) -> None:
    client = await lab.mllp()
    mllp = await client.exchange(oru("N1", [CRP], application="DOE JOHN"))
    await client.close()
    status, http = await _post(
        lab, "/v1/hl7", lab.lab_token, data=oru("N2", [CRP], application="DOE JOHN")
    )
    assert status == 400, http
    async with lab.pool.acquire() as conn:
        bound = await create_token(conn, "bound-lab", Role.LAB, ["LIS^HOSP"])
    result = {"result_id": "J1", "loinc": "1988-5", "value": "12", "unit": "mg/L",
              "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    body = {"message_id": "J1", "source": {"application": "LIS", "facility": MRN},
            "patient": {"identifier": MRN}, "results": [result]}  # fmt: skip
    status, json_answer = await _post(lab, "/v1/lab-results", bound, json=body)
    assert status == 403, json_answer
    rows = await _rejections(lab)
    assert len(rows) == 3
    for ack, row in zip((mllp, http), rows[:2], strict=True):
        assert row["reason"].startswith("sender '[redacted] [redacted]^HOSP'"), row
        for said in (msa(ack)[3], _err8(ack)):
            assert "DOE" not in said and "JOHN" not in said, ack
            assert row["reason"].startswith(_unescaped(said)), (said, row["reason"])
    assert MRN not in json_answer
    assert rows[2]["reason"] in json_answer and MRN not in rows[2]["source"], rows[2]


async def test_listed_senders_named_with_digits_or_oids_are_kept_as_they_are(lab: Lab) -> None:
    client = await lab.mllp()
    good = await client.exchange(oru("D1", [CRP], application="LIS2024", facility="HOSP01"))
    bad = await client.exchange(
        oru("D2", [obx("1988-5", "high", "mg/L")], application="LIS2024", facility="HOSP01")
    )
    # another order: the same order's CRP from another sender is a copy (review 181)
    oid = await client.exchange(oru("D3", [CRP], application=f"^{OID}^ISO", order="ORD2"))
    await client.close()
    assert msa(good)[1] == "AA" and msa(oid)[1] == "AA", (good, oid)
    assert msa(bad)[1] == "AE", bad
    rows = await _rejections(lab)
    assert [row["source"] for row in rows] == ["LIS2024^HOSP01"]
    assert rows[0]["payload"].startswith("MSH|^~\\&|LIS2024|HOSP01|")
    sources = await lab.pool.fetch("SELECT DISTINCT source FROM results ORDER BY source")
    assert [r["source"] for r in sources] == [f"{OID}^HOSP", "LIS2024^HOSP01"]
