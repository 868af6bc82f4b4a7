"""Over the real MLLP socket (PostgreSQL, broker; task 280): a unit in OBX-6's text (CWE-2)
or original text (CWE-9) that disagrees with the coded unit was passed over, and the coded
unit used alone, when it was glued to a label by punctuation (``CRP:mg/dL``,
``Labor,mg/dL``, ``"mg/dL"``), written after a word ending in a digit (``HL7 %``: its ``%``
was taken for a quantity), or written with a full-width percent sign (U+FF05), a per
mille sign (``‰``) or a percent word the service did not list (``Prozentsatz``): a CRP ten
times off, a neutrophil percentage published as a count. Each is now refused
unconvertible-unit (AE) and nothing stored; the same texts naming the coded unit are
stored as before."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import TS, msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

CRP, ANC = "1988-5^CRP^LN", "751-8^ANC^LN"


async def _answer(lab: Lab, control_id: str, segment: str) -> str:
    client = await lab.mllp()
    try:
        return msa(await client.exchange(oru(control_id, [segment])))[1]
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("code", "value", "obx6"),
    [
        (CRP, "12", "mg/L^CRP:mg/dL^UCUM"),
        (CRP, "12", "mg/L^Labor,mg/dL^UCUM"),
        (CRP, "12", 'mg/L^"mg/dL"^UCUM'),
        (CRP, "12", "mg/L^^UCUM^^^^^^CRP:mg/dL"),  # CWE-9, the original text
        (ANC, "3.1", "10*9/L^HL7 %^UCUM"),
        (ANC, "3.1", "10*9/L^\uff05^UCUM"),  # a full-width percent sign
        (ANC, "3.1", "10*9/L^\u2030^UCUM"),  # a per mille sign
        (ANC, "3.1", "10*9/L^Prozentsatz^UCUM"),
        (ANC, "3.1", "10*9/L^^UCUM^^^^^^CRP:%"),
    ],
)
async def test_a_unit_glued_to_a_label_or_an_unlisted_percent_is_refused(
    lab: Lab, code: str, value: str, obx6: str
) -> None:
    answer = await _answer(lab, "R280-A", f"NM|{code}||{value}|{obx6}|||||F|||{TS}")
    stored = await lab.pool.fetch("SELECT value, unit FROM results")
    reasons = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert answer == "AE" and not stored, (answer, [tuple(r) for r in stored])
    assert [r["reason_code"] for r in reasons] == ["unconvertible-unit"]


@pytest.mark.parametrize(
    ("code", "value", "obx6", "stored"),
    [
        (CRP, "12", "mg/L^CRP:mg/L^UCUM", (12.0, "mg/L")),
        (CRP, "12", "mg/L^Labor,mg/l^UCUM", (12.0, "mg/L")),
        (CRP, "1.2", "mg/dL^\u201emg/dl\u201c^UCUM", (12.0, "mg/L")),
        (ANC, "3.1", "10*9/L^CV 3%^UCUM", (3.1, "10*9/L")),
        (ANC, "3.1", "10*9/L^NEUT:x10(9)/L^UCUM", (3.1, "10*9/L")),
    ],
)
async def test_the_same_texts_naming_the_coded_unit_are_stored(
    lab: Lab, code: str, value: str, obx6: str, stored: tuple[float, str]
) -> None:
    answer = await _answer(lab, "R280-B", f"NM|{code}||{value}|{obx6}|||||F|||{TS}")
    rows = await lab.pool.fetch("SELECT value, unit FROM results")
    assert answer == "AA" and [tuple(r) for r in rows] == [stored], (answer, rows)
