"""Over the real MLLP socket and FHIR endpoint (PostgreSQL, broker; review 155): a unit text
naming another unit than the code, in German, French or Italian, or after a word, or a local
code spelling another unit, was answered AA / 201 and the value stored in the coded unit,
ten times off (``mg/L^Milligramm pro Deziliter^L``: 1.2 mg/L stored, 12 measured;
``mg/L^CRP (mg/dL)^L``, ``MGDL^mg/L^99LAB``, ``mg/dl^CRP (mg/l)``). Each is now refused
unconvertible-unit (AE, 422) and nothing stored; texts naming the coded unit, and texts
naming none, are stored as before. And CRP ``0,150`` mg/dL, refused as a possible thousands
separator, is 0.15 mg/dL (1.5 mg/L): no thousands group is led by a lone 0."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.lab_fixtures import crp_observation, msa, obx, oru
from tests.integration.test_lab_fhir_subject_and_untracked_ids import post
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

REFUSED = [
    ("1.2", "mg/L^Milligramm pro Deziliter^L"),
    ("1.2", "mg/L^milligramme par décilitre^L"),
    ("1.2", "mg/L^milligrammi per decilitro^L"),
    ("1.2", "mg/L^CRP (mg/dL)^L"),
    ("1.2", "mg/L^S-CRP mg/dl^L"),
    ("1.2", "mg/L^hs-CRP (mg/dl)^L"),
    ("1.2", "mg/L^Einheit mg/dl^L"),
    ("1.2", "mg/L^Milligramm je Deziliter^L"),
    ("1.2", "MGDL^mg/L^99LAB"),
    ("12", "mg/dl^CRP (mg/l)^L"),
]
STORED = [
    ("1.2", "mg/L^Milligramm pro Liter^L", 1.2),
    ("1.2", "mg/L^mg/L^L", 1.2),
    ("1.2", "mg/L^CRP mg/L^L", 1.2),
    ("1.2", "mg/dl^Milligramm pro Deziliter^L", 12.0),
    ("1.2", "MGL^mg/L^99LAB", 1.2),
    ("1.2", "mg/L^C-reaktives Protein^L", 1.2),
]


async def test_unit_texts_naming_another_unit_are_refused_over_mllp(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        acks = [
            await client.exchange(oru(f"U155-{i}", [obx("1988-5", value, unit)], order=f"O{i}"))
            for i, (value, unit) in enumerate(REFUSED)
        ]
    finally:
        await client.close()
    answers = [(unit, msa(ack)[1]) for (_, unit), ack in zip(REFUSED, acks, strict=True)]
    assert answers == [(unit, "AE") for _, unit in REFUSED]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    reasons = await lab.pool.fetch("SELECT reason_code, reason FROM rejections")
    assert {r["reason_code"] for r in reasons} == {"unconvertible-unit"}, reasons
    assert len(reasons) == len(REFUSED)
    assert not any("Deziliter" in r["reason"] or "CRP" in r["reason"] for r in reasons)


async def test_unit_texts_naming_the_coded_unit_or_none_are_stored_over_mllp(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        acks = [
            await client.exchange(oru(f"S155-{i}", [obx("1988-5", value, unit)], order=f"S{i}"))
            for i, (value, unit, _) in enumerate(STORED)
        ]
    finally:
        await client.close()
    assert [msa(ack)[1] for ack in acks] == ["AA"] * len(STORED), acks
    rows = await lab.pool.fetch("SELECT value, unit FROM results ORDER BY recorded_at")
    assert [tuple(r) for r in rows] == [(mg_l, "mg/L") for *_, mg_l in STORED]


def _crp(identifier: str, code: str, display: str) -> dict[str, Any]:
    observation = crp_observation(identifier)
    observation["valueQuantity"] = {
        "value": 1.2, "unit": display, "system": "http://unitsofmeasure.org", "code": code,
    }  # fmt: skip
    return observation


async def test_a_fhir_display_naming_another_unit_is_refused(lab: Lab) -> None:
    refused = [
        await post(lab, "/fhir/Observation", _crp("OBS-155-1", "mg/L", "Milligramm pro Deziliter")),
        await post(lab, "/fhir/Observation", _crp("OBS-155-2", "mg/L", "CRP (mg/dL)")),
    ]
    assert refused == [422, 422]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    stored = await post(lab, "/fhir/Observation", _crp("OBS-155-3", "mg/L", "Milligramm pro Liter"))
    assert stored == 201
    rows = await lab.pool.fetch("SELECT value, unit FROM results")
    assert [tuple(r) for r in rows] == [(1.2, "mg/L")]


async def test_a_decimal_comma_after_a_lone_zero_is_read_over_mllp(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        read = await client.exchange(oru("C155-1", [obx("1988-5", "0,150", "mg/dL")]))
        refused = await client.exchange(
            oru("C155-2", [obx("1988-5", "1,500", "mg/L")], order="ORD2")
        )
    finally:
        await client.close()
    assert msa(read)[1] == "AA", read
    assert msa(refused)[1] == "AE", refused
    rows = await lab.pool.fetch("SELECT value, unit, original_value FROM results")
    assert [tuple(r) for r in rows] == [(1.5, "mg/L", "0,150")]
