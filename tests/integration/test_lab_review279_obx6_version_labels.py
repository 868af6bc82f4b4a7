"""Over the real MLLP socket (PostgreSQL, broker; review 279): what OBX-6's version places
(CWE-7, 8) hold.

- O1: a unit table's label with a word outside a fixed list (``unità di misura``,
  ``UCUM-Einheiten``, ``Swiss units``) was read as unreadable unit words and every result
  refused: a label of "unit" words, system names and words naming no unit is no unit.
- O2, O3: a revision or period id of a letter and digits (``Version M1``, ``Rev: L2``,
  ``Q1/2024``) was read as a unit: a version id, never a unit.
- P1: a unit after a quote, angle bracket, arrow or full-width colon (``mg/dL`` in quotes,
  ``<mg/dL>``) was passed over and a CRP in mg/dL published as mg/L: compared.
"""

from __future__ import annotations

import pytest

from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import TS, msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

CRP, ANC = "1988-5^CRP^LN", "751-8^ANC^LN"


async def _exchange(lab: Lab, control_id: str, segments: list[str]) -> list[str]:
    client = await lab.mllp()
    try:
        return msa(await client.exchange(oru(control_id, segments)))
    finally:
        await client.close()


@pytest.mark.parametrize(
    "version",
    [
        "unità di misura",
        "unités de mesure",
        "UCUM-Einheiten",
        "Swiss units",
        "Système international d'unités",
        "Local units - v2",
        "Version M1",
        "Rev: L2",
        "Q1/2024",
    ],
)
async def test_a_label_or_a_version_id_in_cwe7_refuses_nothing(lab: Lab, version: str) -> None:
    answer = await _exchange(lab, "R279-O", [f"NM|{CRP}||12|mg/L^^UCUM^^^^{version}|||||F|||{TS}"])
    stored = await lab.pool.fetch("SELECT value, unit FROM results")
    published = await lab.events(LAB_RESULTS, 1) if stored else []
    assert answer[1] == "AA" and [tuple(r) for r in stored] == [(12.0, "mg/L")], (answer, stored)
    assert [(e.payload["value"], e.payload["unit"]) for e in published] == [(12.0, "mg/L")]


@pytest.mark.parametrize(
    ("code", "value", "obx6"),
    [
        (CRP, "12", "mg/L^^UCUM^^^^Labor \u201amg/dL\u2018"),
        (CRP, "12", "mg/L^^UCUM^^^^<mg/dL>"),
        (CRP, "12", "mg/L^^UCUM^^^^Labor\uff1amg/dL"),
        (CRP, "12", "mg/L^^UCUM^^^^2.1^Labor\u2192mg/dL"),
        (ANC, "3.1", "10*9/L^^UCUM^^^^Labor \uff05"),
    ],
)
async def test_a_disagreeing_unit_after_any_punctuation_in_cwe7_is_refused(
    lab: Lab, code: str, value: str, obx6: str
) -> None:
    answer = await _exchange(lab, "R279-P", [f"NM|{code}||{value}|{obx6}|||||F|||{TS}"])
    stored = await lab.pool.fetch("SELECT value, unit FROM results")
    assert answer[1] == "AE" and not stored, (answer, [tuple(r) for r in stored])
    reasons = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert [r["reason_code"] for r in reasons] == ["unconvertible-unit"], answer
