"""The CRP nmol/L factor is the protocol file's (PROTOCOL section 6: "a laboratory
convention, kept as a protocol parameter"), not a number in the code: lab-ingestion started
on a protocol file of another factor converts nmol/L CRP by that factor, over MLLP and HTTP
alike, stores and publishes that value, and says which protocol version it applies (its
start-up log line and ``cachexia_protocol_info``)."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from shared.contracts.topics import LAB_RESULTS
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import MRN, msa, obx, oru
from tests.integration.test_lab_ingestion import running_lab

pytestmark = pytest.mark.integration

PROTOCOL = """version = "LENA-CCS-T"

[lab_ingestion]
crp_nmol_per_mg_l = 10.0
"""


async def test_nmol_crp_is_converted_by_the_protocol_files_factor(
    settings: PlatformSettings, database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    protocol_file = tmp_path / "LENA-CCS-T.toml"
    protocol_file.write_text(PROTOCOL)
    caplog.set_level(logging.INFO, logger="services.lab_ingestion.bootstrap")
    fields = {name: getattr(settings, name) for name in PlatformSettings.model_fields}
    on_protocol = PlatformSettings(**{**fields, "protocol_file": protocol_file})
    async with running_lab(on_protocol, database) as lab:
        client = await lab.mllp()
        ack = await client.exchange(oru("PF-1", [obx("1988-5", "95.24", "nmol/L")]))
        await client.close()
        assert msa(ack)[1:3] == ["AA", "PF-1"], ack
        body = {
            "message_id": "PF-2",
            "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": MRN},
            "results": [
                {
                    "result_id": "PF-2-1",
                    "loinc": "30522-7",
                    "value": "47.62",
                    "unit": "nmol/L",
                    "status": "final",
                    "collected_at": "2026-11-21T08:00:00+01:00",
                }
            ],
        }
        headers = {"Authorization": f"Bearer {lab.lab_token}"}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.post(f"{lab.http}/v1/lab-results", json=body) as accepted,
        ):
            assert accepted.status == 202, await accepted.text()

        rows = await lab.pool.fetch(
            "SELECT loinc, value, unit, original_value, original_unit FROM results ORDER BY loinc"
        )
        assert [(r["loinc"], r["unit"], r["original_unit"]) for r in rows] == [
            ("1988-5", "mg/L", "nmol/L"),
            ("30522-7", "mg/L", "nmol/L"),
        ]
        # divided by the file's 10.0, not by the 9.524 of the platform's protocol file
        assert [r["value"] for r in rows] == [pytest.approx(9.524), pytest.approx(4.762)]
        events = {e.payload["loinc"]: e.payload for e in await lab.events(LAB_RESULTS, 2)}
        assert events["1988-5"]["value"] == rows[0]["value"]
        assert events["30522-7"]["value"] == rows[1]["value"]

        assert await lab.metric("cachexia_protocol_info", version="LENA-CCS-T") == 1
        assert await lab.metric("cachexia_protocol_info", version="LENA-CCS-1") == 0
    said = [r for r in caplog.records if getattr(r, "protocol_version", None) == "LENA-CCS-T"]
    assert [r.getMessage() for r in said] == ["protocol LENA-CCS-T: its parameters are applied"]
    assert said[0].protocol_file == str(protocol_file)  # type: ignore[attr-defined]
