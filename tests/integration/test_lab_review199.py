"""Review 199 through the real MLLP socket, database and broker: the patient's places are
scrubbed from a kept HL7 copy everywhere but where the copy is read back (the header, ids,
codes, the trial result's status and times), and a secret found only as it reads (an
escape) no longer runs a coded field's components into one, so the copy replays."""

from __future__ import annotations

import asyncio

import pytest

from services.lab_ingestion.adapters.sources import add_source
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_real_message_shapes import exchange, j
from tests.integration.test_lab_replay import cli, rejection_of
from tests.integration.test_lab_review185 import TS

pytestmark = pytest.mark.integration

WRITTEN = "Thun, Bahnhofstrasse"


def at_home(cid: str) -> str:
    """A CRP from LIS|BERN (not listed) for a patient living at Bahnhofstrasse 12 in Thun,
    whose next of kin lives in Spiez: the places written in a visit's reason, a diagnosis,
    the order's placer fields and collector's comment, its timing, the specimen's site, and
    the street and house number, written with an escape, in the CRP's test name."""
    return j(
        f"MSH|^~\\&|LIS|BERN|LENA|TRIAL|20261120090000+0100||ORU^R01|{cid}|P|2.5.1",
        "PID|1||MRN4711^^^HOSP^MR||DOE^JOHN||19580214|M|||Bahnhofstrasse 12^^Thun^^3600^CH",
        "NK1|1|DOE^JANE|SPO|Seeweg 4^^Spiez",
        f"PV2|||R1^Hausbesuch^L|||||||||Hausbesuch {WRITTEN}",
        f"DG1|1||D1^Fieber^L|{WRITTEN}",
        f"ORC|RE|PLC{cid}|F{cid}",
        f"OBR|1|PLC{cid}|F{cid}|CRP^CRP^L|||{TS}|||||||||||{WRITTEN}|aus Spiez"
        + "|" * 20
        + f"^Entnahme zuhause {WRITTEN}",
        f"TQ1|1||||||||||{WRITTEN}",
        f"OBX|1|NM|1988-5^CRP Hausbesuch Bahnhofstra\\XDF\\e 12^LN||42|mg/L|0-5|H|||F|||{TS}",
        f"SPM|1|S{cid}||BLD^Blut^L||||||^Wohnung {WRITTEN}^L",
    )


async def test_the_patients_places_are_scrubbed_everywhere_and_the_copy_replays(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """PV2-12, DG1-4, OBR-18/19/39, TQ1-11 and SPM-10 kept ``Thun, Bahnhofstrasse`` (and
    ``Spiez``); OBX-3 was kept as ``1988-5\\S\\CRP Hausbesuch [redacted]\\S\\LN``, whose
    replay failed (its copy did not read as the message did)."""
    (ack,) = await exchange(lab, at_home("HOME-199"))
    assert ack[1] in ("AE", "AR"), ack
    row = await lab.pool.fetchrow("SELECT source, reason_code, payload FROM rejections")
    assert row["source"] == "LIS^BERN" and row["reason_code"] == "unknown-source", dict(row)
    payload = row["payload"]
    for place in ("Thun", "Bahnhofstr", "Spiez"):
        assert place not in payload, payload
    lines = {line[:3]: line.split("|") for line in payload.split("\r")}
    assert lines["MSH"][2:4] == ["LIS", "BERN"] and lines["MSH"][9] == "HOME-199"
    assert lines["PV2"][12] == "Hausbesuch [redacted], [redacted]"
    assert lines["OBR"][18:20] == ["[redacted], [redacted]", "aus [redacted]"]
    assert lines["OBR"][39] == "^Entnahme zuhause [redacted], [redacted]"
    assert lines["SPM"][10] == "^Wohnung [redacted], [redacted]^L"
    assert lines["OBX"][3] == "1988-5^CRP Hausbesuch [redacted]^LN"
    async with lab.pool.acquire() as conn:
        await add_source(conn, "LIS", "BERN")
    await asyncio.sleep(2.5)  # the senders are read again
    assert await cli(lab, "replay", await rejection_of(lab, "HOME-199")) == 0, capsys.readouterr()
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 1
