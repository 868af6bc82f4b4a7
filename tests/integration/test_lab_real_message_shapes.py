"""Review 119's laboratory message shapes through the real MLLP socket (and POST /v1/hl7),
database and broker: the specimen's collection time (SPM-17) read and checked, an order
numbered in ORC alone, a date alone in OBX-14, the patient's number in PID-2, and ``LNC``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import pytest

from services.lab_ingestion.adapters import hl7_codec
from services.lab_ingestion.adapters.hl7_order import order_of
from services.lab_ingestion.adapters.sources import add_source
from tests.integration.lab_fixtures import msa
from tests.integration.test_lab_ingestion import SUBJECT, Lab

pytestmark = pytest.mark.integration

PID = "PID|1||MRN4711^^^HOSP^MR||DOE^JOHN^^^^^L||19580214|M"
AT_0715Z = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)


def msh(cid: str, version: str = "2.5.1") -> str:
    return f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{cid}|P|{version}"


def obr(order: str, t7: str = "20261120081500+0100", rest: str = "") -> str:
    return f"OBR|1|PLC-{order}|{order}|CRP^CRP panel^L|||{t7}{rest}"


def obx(value: str = "42.5", t14: str = "", code: str = "1988-5^CRP^LN", unit: str = "mg/L",
        ref: str = "0-5", flag: str = "H", status: str = "F") -> str:  # fmt: skip
    return f"OBX|1|NM|{code}||{value}|{unit}|{ref}|{flag}|||{status}|||{t14}"


def spm(t17: str) -> str:
    return f"SPM|1|SP1^SP1||119297000^Blood specimen^SCT|||||||||||||{t17}|20261120083000+0100"


def j(*segments: str) -> str:
    return "\r".join(segments) + "\r"


PLATELETS = {"code": "777-3^Platelets^LN", "unit": "10*9/L", "ref": "150-450", "flag": "L"}
NEUTROPHILS = {"code": "751-8^Neutrophils^LN", "unit": "10*9/L", "ref": "1.8-7.7", "flag": "L"}


async def exchange(lab: Lab, *messages: str) -> list[list[str]]:
    client = await lab.mllp()
    acks = []
    try:
        for message in messages:
            acks.append(msa(await client.exchange(message)))
            await asyncio.sleep(0.1)  # each its own batch: a chain is read from the database
    finally:
        await client.close()
    return acks


async def stored(lab: Lab, control_id: str) -> list[tuple[str, float, datetime, str]]:
    rows = await lab.pool.fetch(
        "SELECT r.analyte, r.value, r.collected_at, r.status FROM results r"
        " JOIN messages m USING (message_id) WHERE m.control_id = $1 ORDER BY r.recorded_at",
        lab.stored_id(control_id),
    )
    return [(r["analyte"], r["value"], r["collected_at"], r["status"]) for r in rows]


async def test_spm17_places_a_result_obr7_and_obx14_leave_untimed(lab: Lab) -> None:
    """LRI: OBR-7 and OBX-14 empty, SPM-17 holds the collection time (was AE "no
    collection time"); a reflex child order without OBR-7, its SPM-17 given (was AE, the
    parent's platelets 45 with it)."""
    acks = await exchange(
        lab,
        j(msh("lri"), PID, "ORC|RE|PLC-L2|L2", obr("L2", ""), obx(), spm("20261120081500+0100")),
        j(msh("child"), PID, obr("P27"), obx(value="45", **PLATELETS), spm("20261120081500+0100"),
          obr("C27", "", rest="|||||||||||||||||||777-3&Platelets&LN^1^45|||PLC-P27&P27"),
          obx(value="0.8", **NEUTROPHILS), spm("20261120081500+0100")),
    )  # fmt: skip
    assert [a[1] for a in acks] == ["AA", "AA"], acks
    assert await stored(lab, "lri") == [("crp", 42.5, AT_0715Z, "F")]
    assert await stored(lab, "child") == [
        ("platelets", 45.0, AT_0715Z, "F"), ("neutrophils", 0.8, AT_0715Z, "F"),
    ]  # fmt: skip


async def test_a_collection_time_the_specimens_contradicts_is_refused_and_kept(lab: Lab) -> None:
    """OBR-7 11:15+01 (the order's time) beside SPM-17 07:15+01 was stored at 10:15Z; an
    OBX-14 10:15+01 (the analysis time middleware wrote) beside OBR-7 and SPM-17 07:15+01
    at 09:15Z. Refused: which time is the draw's cannot be told. One that agrees to the
    precision written is taken."""
    acks = await exchange(
        lab,
        j(msh("spm-differs"), PID, obr("L3", "20261120111500+0100"), obx(),
          spm("20261120071500+0100")),
        j(msh("obx14-later"), PID, obr("L4", "20261120071500+0100"),
          obx(t14="20261120101500+0100"), spm("20261120071500+0100")),
        j(msh("agrees"), PID, obr("L5", "202611200815+0100"), obx(),
          spm("20261120071530+0000")),
    )  # fmt: skip
    assert [a[1] for a in acks] == ["AE", "AE", "AA"], acks
    assert "OBR-7" in acks[0][3] and "SPM-17" in acks[0][3]
    assert "OBX-14" in acks[1][3] and "SPM-17" in acks[1][3]
    assert await stored(lab, "spm-differs") == [] and await stored(lab, "obx14-later") == []
    assert await stored(lab, "agrees") == [("crp", 42.5, AT_0715Z, "F")]
    kept = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert [r["reason_code"] for r in kept] == ["implausible-time"] * 2


async def test_an_lri_message_over_http_is_placed_by_spm17(lab: Lab) -> None:
    headers = {
        "Authorization": f"Bearer {lab.lab_token}", "Content-Type": "x-application/hl7-v2+er7",
    }  # fmt: skip
    message = j(msh("http-lri"), PID, obr("H3", ""), obx(), spm("20261120081500+0100"))
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/v1/hl7", data=message.encode(), headers=headers) as r,
    ):
        assert r.status == 200, await r.text()
    assert await stored(lab, "http-lri") == [("crp", 42.5, AT_0715Z, "F")]


async def test_an_order_numbered_in_orc_alone_is_keyed_by_it(lab: Lab) -> None:
    """ORC-2/3 with OBR-2/3 empty: keyed by the collection time before, so the same order's
    final resent with a corrected draw time was a second live final, a correction moving
    the time was refused (AE 204), and two orders' platelets were refused (AE 205)."""
    acks = await exchange(
        lab,
        j(msh("orc", "2.3"), PID, "ORC|RE|PLC-O14|O14", "OBR|1|||CRP^CRP^L|||20261120081500+0100",
          obx()),
        j(msh("orc-f2", "2.3"), PID, "ORC|RE|PLC-O14|O14",
          "OBR|1|||CRP^CRP^L|||20261120071500+0100", obx()),
        j(msh("orc-corr", "2.3"), PID, "ORC|RE|PLC-O14|O14",
          "OBR|1|||CRP^CRP^L|||20261120074500+0100", obx(value="40", status="C")),
        j(msh("two-orders", "2.4"), PID, "ORC|RE|PLC-E20|E20",
          "OBR|1|||PLT^EDTA^L|||20261120081500+0100", obx(value="45", **PLATELETS),
          "ORC|RE|PLC-C20|C20", "OBR|2|||PLTC^Citrate^L|||20261120081500+0100",
          obx(value="160", **{**PLATELETS, "flag": ""})),
    )  # fmt: skip
    assert [a[1] for a in acks] == ["AA", "AE", "AA", "AA"], acks
    live = await lab.pool.fetch(
        "SELECT analyte, value, status FROM results WHERE cancelled_at IS NULL"
        " AND result_id NOT IN (SELECT supersedes_result_id FROM results"
        " WHERE supersedes_result_id IS NOT NULL) ORDER BY recorded_at"
    )
    assert [(r["analyte"], r["value"], r["status"]) for r in live] == [
        ("crp", 40.0, "C"), ("platelets", 45.0, "F"), ("platelets", 160.0, "F"),
    ]  # fmt: skip


async def test_an_orc_numbered_result_stored_by_its_time_is_found_after_the_upgrade(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored before review 119 under the key of its collection time: its final resent
    under a new MSH-10 stores no second row, a correction supersedes it (``legacy_keys``)."""

    def message(cid: str, value: str = "42.5", status: str = "F") -> str:
        order = "OBR|1|||CRP^CRP^L|||20261120081500+0100"
        return j(msh(cid, "2.3"), PID, "ORC|RE|PLC-O9|O9", order, obx(value=value, status=status))

    with monkeypatch.context() as m:  # the version before: the OBR's number alone
        m.setattr(hl7_codec, "order_of", lambda obr, offset, orc=None: order_of(obr, offset))
        before = await exchange(lab, message("OLD-ORC"))
    acks = await exchange(lab, message("OLD-ORC"), message("NEW-ORC"),
                          message("NEW-CORR", "40", "C"))  # fmt: skip
    assert before[0][1] == "AA" and [a[1] for a in acks] == ["AA", "AA", "AA"], acks
    rows = await lab.pool.fetch(
        "SELECT result_id, result_key, status, value, supersedes_result_id, subject_id"
        " FROM results ORDER BY recorded_at"
    )
    assert [(r["status"], r["value"]) for r in rows] == [("F", 42.5), ("C", 40.0)]
    assert rows[1]["supersedes_result_id"] == rows[0]["result_id"]
    assert rows[0]["result_key"] == rows[1]["result_key"]  # the chain goes on where it is
    assert {r["subject_id"] for r in rows} == {SUBJECT}


async def test_a_date_alone_in_obx14_takes_the_time_that_agrees_with_it(lab: Lab) -> None:
    """OBX-14 ``20261120`` beside OBR-7 of that day was AE "no collection time"; beside
    OBR-7 of another day it is refused as the two disagree."""
    acks = await exchange(
        lab,
        j(msh("date-only", "2.3"), PID, obr("D23"), obx(t14="20261120")),
        j(msh("date-other", "2.3"), PID, obr("D24"), obx(t14="20261119")),
    )
    assert [a[1] for a in acks] == ["AA", "AE"], acks
    assert "OBX-14" in acks[1][3] and "OBR-7" in acks[1][3]
    assert await stored(lab, "date-only") == [("crp", 42.5, AT_0715Z, "F")]


async def test_the_patients_number_in_pid2_is_read_under_pid3s_rules(lab: Lab) -> None:
    """v2.3: the hospital's number in PID-2, the laboratory's in PID-3: was "not enrolled,
    discarded". Two authorities and none configured: refused (never the first number);
    with the sender's authority configured: stored. PID-2 alone: stored."""
    external = "PID|1|MRN4711^^^HOSP^MR|L998877^^^CENTRALLAB^PI||DOE^JOHN||19580214|M"
    first = await exchange(
        lab,
        j(msh("pid2", "2.3"), external, obr("P26"), obx()),
        j(msh("pid2-untyped", "2.3"), "PID|1|MRN4711|L998877||DOE^JOHN", obr("P26B"), obx()),
        j(msh("pid2-alone", "2.3"), "PID|1|MRN4711^^^HOSP^MR|||DOE^JOHN", obr("P26C"), obx()),
    )
    assert [a[1] for a in first] == ["AE", "AE", "AA"], first
    assert await stored(lab, "pid2-alone") == [("crp", 42.5, AT_0715Z, "F")]
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LIS", "HOSP", identifier_authority="HOSP")
    await asyncio.sleep(2.5)  # the senders are read again
    (second,) = await exchange(lab, j(msh("pid2-hosp", "2.3"), external, obr("P26D"), obx()))
    assert second[1] == "AA", second
    assert await stored(lab, "pid2-hosp") == [("crp", 42.5, AT_0715Z, "F")]
    subjects = await lab.pool.fetch("SELECT DISTINCT subject_id FROM results")
    assert [r["subject_id"] for r in subjects] == [SUBJECT]
    kept = await lab.pool.fetch("SELECT payload FROM rejections")
    assert kept and all("MRN4711" not in str(r["payload"]) for r in kept)


async def test_a_loinc_code_under_lnc_is_read(lab: Lab) -> None:
    (ack,) = await exchange(lab, j(msh("lnc", "2.3"), PID, obr("CS1"), obx(code="1988-5^CRP^LNC")))
    assert ack[1] == "AA", ack
    assert await stored(lab, "lnc") == [("crp", 42.5, AT_0715Z, "F")]
