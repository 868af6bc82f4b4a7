"""Review 207 through the real MLLP socket, POST /v1/lab-results, database and broker: a
place written as plain text in a coded field no replay reads (ORC-16, OBR-12/31, PV2-3,
DG1-3) is scrubbed; a JSON patient detail under a place key known by its words
(``birth_city``) leaves the sender and message id whole; a note's escapes around a
scrubbed word are kept as written (a tab, ``≥``, highlighting, formatting); the copy
replays."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from services.lab_ingestion.adapters.sources import add_source
from shared.auth import Role, create_token
from shared.contracts.topics import LAB_REJECTED
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_real_message_shapes import exchange, j
from tests.integration.test_lab_replay import cli, rejection_of
from tests.integration.test_lab_review185 import TS

pytestmark = pytest.mark.integration

NOTE = (
    "Patient aus Z\\XC3BC\\rich\\X09\\Tab, CRP \\XE289A5\\ 5 \\H\\kritisch\\N\\ \\.in2\\x \\.fi\\y"
)
# the note as kept: the city scrubbed, every other escape as written
KEPT_NOTE = (
    "Patient aus [redacted]\\X09\\Tab, CRP \\XE289A5\\ 5 \\H\\kritisch\\N\\ \\.in2\\x \\.fi\\y"
)


def thun(cid: str, facility: str = "BERN", unit: str = "mg/L") -> str:
    """A CRP from LIS|BERN (not listed) for a patient living in Thun, Gartenweg 12, born in
    Spiez, whose former city Zürich is written in hex: reasons and comments written as plain
    text where HL7 has a coded element, and a note holding escapes."""
    return j(
        f"MSH|^~\\&|LIS|{facility}|LENA|TRIAL|20261120090000+0100||ORU^R01|{cid}|P|2.5.1",
        "PID|1||MRN4711^^^HOSP^MR||DOE^JOHN||19580214|M|||Gartenweg 12^^Thun^^3600^CH"
        "~^^Z\\XFC\\rich||||||||||||Spiez",
        "PV2|||Sturz zuhause in Thun",
        "DG1|1||Sturz Gartenweg Thun",
        f"ORC|RE|PLC{cid}|F{cid}|||||||||||||Patient verzogen nach Thun",
        f"OBR|1|PLC{cid}|F{cid}|CRP^CRP^L|||{TS}|||||Infektioes, wohnt in Thun|"
        + "|" * 18
        + "Kontrolle, Patient geboren in Spiez",
        f"OBX|1|NM|1988-5^CRP^LN||42|{unit}|0-5|H|||F|||{TS}",
        f"NTE|1||{NOTE}",
    )


async def test_places_in_plain_text_coded_fields_are_scrubbed_and_the_copy_replays(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """ORC-16, OBR-12, OBR-31, PV2-3 and DG1-3 kept ``Thun``, ``Spiez`` and ``Gartenweg``
    (taken for codes); the note's tab became ``\\X 9\\``, ``≥`` ``\\X2265\\``, the
    highlighting ``_``."""
    (ack,) = await exchange(lab, thun("THUN-207"))
    assert ack[1] in ("AE", "AR"), ack
    row = await lab.pool.fetchrow("SELECT source, reason_code, payload FROM rejections")
    assert row["source"] == "LIS^BERN" and row["reason_code"] == "unknown-source", dict(row)
    payload = row["payload"]
    for place in ("Thun", "Spiez", "Gartenweg", "rich"):
        assert place not in payload, payload
    lines = {line[:3]: line.split("|") for line in payload.split("\r")}
    assert lines["MSH"][2:4] == ["LIS", "BERN"] and lines["MSH"][9] == "THUN-207"
    assert lines["PV2"][3] == "Sturz zuhause in [redacted]"
    assert lines["DG1"][3] == "Sturz [redacted] [redacted]"
    assert lines["ORC"][16] == "Patient verzogen nach [redacted]"
    assert lines["OBR"][12] == "Infektioes, wohnt in [redacted]"
    assert lines["OBR"][31] == "Kontrolle, Patient geboren in [redacted]"
    assert lines["OBX"][3] == "1988-5^CRP^LN"
    assert lines["NTE"][3] == KEPT_NOTE
    for event in await lab.events(LAB_REJECTED, 1):
        assert event.payload["source"] == "LIS^BERN", event.payload
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LIS", "BERN")
    await asyncio.sleep(2.5)  # the senders are read again
    assert await cli(lab, "replay", await rejection_of(lab, "THUN-207")) == 0, capsys.readouterr()
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1


@pytest.mark.parametrize("key", ["birth_city", "wohnort"])
async def test_a_json_place_key_known_by_its_words_leaves_the_sender_whole(
    lab: Lab, key: str
) -> None:
    """A body from LIS^BERN to a token bound to LIS^HOSP, for a patient born in Bern
    (``birth_city``): the rejection, its event, reason and answer named LIS^[redacted] and
    kept J-[redacted]-1."""
    async with lab.pool.acquire() as conn:
        bound = await create_token(conn, "bound-lab", Role.LAB, ["LIS^HOSP"])
    result = {"result_id": "J1", "loinc": "1988-5", "value": "12", "unit": "mg/L",
              "status": "final", "collected_at": "2026-11-20T08:00:00+01:00",
              "reference_range": "Bern 0-5"}  # fmt: skip
    body = {"message_id": "J-BERN-1", "source": {"application": "LIS", "facility": "BERN"},
            "patient": {"identifier": "MRN4711", key: "Bern"}, "results": [result]}  # fmt: skip
    auth = {"Authorization": f"Bearer {bound}"}
    async with aiohttp.ClientSession() as http, http.post(
        f"{lab.http}/v1/lab-results", headers=auth, json=body
    ) as answer:  # fmt: skip
        assert answer.status == 403, await answer.text()
        said = await answer.text()
    assert "[redacted]" not in said and "LIS^BERN" in said, said
    row = await lab.pool.fetchrow("SELECT source, reason, payload FROM rejections")
    assert row["source"] == "LIS^BERN", dict(row)
    assert "[redacted]" not in row["reason"], row["reason"]
    copy = json.loads(row["payload"])
    assert copy["message_id"] == "J-BERN-1"
    assert copy["source"] == {"application": "LIS", "facility": "BERN"}
    assert copy["results"][0]["reference_range"] == "[redacted] 0-5"
    for event in await lab.events(LAB_REJECTED, 1):
        assert event.payload["source"] == "LIS^BERN", event.payload
        assert "[redacted]" not in json.dumps(event.payload), event.payload


async def test_an_escape_heavy_note_is_kept_as_written_and_its_place_scrubbed(lab: Lab) -> None:
    """A 200 KB note of ``x\\.br\\~`` (every piece one scrub call before) ending in the
    patient's city, from a listed sender (an unlisted one's large copy is not kept), its
    unit unknown: kept as written but the city."""
    note = "x\\.br\\~" * 30_000 + "aus Thun\\.br\\"
    message = thun("BIG-207", "HOSP", "furlongs").replace(f"NTE|1||{NOTE}", f"NTE|1||{note}")
    (ack,) = await exchange(lab, message)
    assert ack[1] in ("AE", "AR"), ack
    payload = await lab.pool.fetchval("SELECT payload FROM rejections")
    (nte,) = [line for line in payload.split("\r") if line.startswith("NTE")]
    assert nte == "NTE|1||" + "x\\.br\\~" * 30_000 + "aus [redacted]\\.br\\"
