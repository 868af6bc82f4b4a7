"""Over the real MLLP socket (PostgreSQL, broker; review 264): OBX-6's version-id places
(CWE-7, 8) after fixer 260 and its follow-up.

- D1: a unit that an unescaped caret's join moves into CWE-8 (``10^9/L^^UCUM^^^^^%``) was
  passed over, where the same OBX-6 escaped is refused: compared at its place after the join.
- D2: an escape python-hl7 cannot read in a component never read (CWE-7, or after CWE-11)
  answered the whole message AR: it refuses nothing.
- D3: a unit's second half after an unescaped caret (``9/L`` of ``10^9/L``, in a full CE)
  sat in CWE-7 as written and was taken for a misplaced unit: the result was refused; and
  (review 268 D1) so was ``x10^9/L`` written in CWE-7 and 8 themselves.
- Review 268 D2: a text naming a unit not written as one alone (``mg/dl (Serum)``) in CWE-7
  or 8 was passed over, and the CRP published in the coded unit: compared, as in CWE-2.
"""

from __future__ import annotations

import pytest

from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import TS, msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

CRP, ANC, PLT = "1988-5^CRP^LN", "751-8^ANC^LN", "777-3^PLT^LN"


async def _exchange(lab: Lab, control_id: str, segments: list[str]) -> list[str]:
    client = await lab.mllp()
    try:
        return msa(await client.exchange(oru(control_id, segments)))
    finally:
        await client.close()


# D1: refused as the same OBX-6 escaped is
@pytest.mark.parametrize(
    ("code", "value", "escaped", "unescaped"),
    [
        (ANC, "55", "10*9/L^^UCUM^^^^^%", "10^9/L^^UCUM^^^^^%"),
        (PLT, "250", "10*9/L^^^^^^^/uL", "10^9/L^^^^^^^/uL"),
    ],
)
async def test_a_unit_a_join_moves_into_a_version_place_is_compared(
    lab: Lab, code: str, value: str, escaped: str, unescaped: str
) -> None:
    first = await _exchange(lab, "R264-D1-A", [f"NM|{code}||{value}|{escaped}|||||F|||{TS}"])
    assert first[1] == "AE", first  # the escaped form: refused, as the README says
    second = await _exchange(lab, "R264-D1-B", [f"NM|{code}||{value}|{unescaped}|||||F|||{TS}"])
    stored = await lab.pool.fetch("SELECT value, unit, original_unit FROM results")
    published = await lab.events(LAB_RESULTS, len(stored)) if stored else []
    assert second[1] == "AE" and not stored, (
        second,
        [tuple(r) for r in stored],
        [e.payload["value"] for e in published],
    )


# D2: the message and its other result stored
@pytest.mark.parametrize(
    "obx6",
    [
        "mg/L^^UCUM^^^^\\.in+x\\",
        "mg/L^^UCUM^^^^^^^^^^^\\.sp+x\\",
        "mg/L^^UCUM^^^^Units 2.1",  # review 269: a coding system's name in words about units
        "mg/L^^UCUM^^^^10^v2",  # review 272: a version pair after a power base
        "mg/L^^UCUM^^^^ISO/IEC 80000",  # review 273: a standard's label refused the result
        "mg/L^^UCUM^^^^10^Lokale Einheiten",  # review 276: a label in German, after a base
        "mg/L^^UCUM^^^^Rev. E",  # review 278: a revision letter was read as a unit
    ],
)
async def test_an_unreadable_escape_in_a_component_never_read_refuses_nothing(
    lab: Lab, obx6: str
) -> None:
    answer = await _exchange(
        lab,
        "R264-D2",
        [f"NM|{CRP}||12|{obx6}|||||F|||{TS}", f"NM|{ANC}||5.2|10*9/L|||||F|||{TS}"],
    )
    count = await lab.pool.fetchval("SELECT count(*) FROM results")
    assert answer[1] == "AA" and count == 2, (answer, count)


# D3: read joined, as the same OBX-6 escaped (\S\) is
@pytest.mark.parametrize(
    ("code", "value", "obx6"),
    [
        (ANC, "5.2", "10^9/L^10^9/L^UCUM^10^9/L^10^9/L^L"),
        (PLT, "250", "10^3/uL^10^3/uL^UCUM^10^3/uL^10^3/uL^L"),
        (PLT, "250", "10*9/L^^UCUM^^^^x10^9/L"),  # review 268 D1: in CWE-7 and 8 itself
        (PLT, "250", "10*9/L^^UCUM^^^^10^9/L (cells)"),  # review 269: with words after it
    ],
)
async def test_a_joined_units_second_half_is_no_misplaced_unit(
    lab: Lab, code: str, value: str, obx6: str
) -> None:
    answer = await _exchange(lab, "R264-D3", [f"NM|{code}||{value}|{obx6}|||||F|||{TS}"])
    reason = await lab.pool.fetchval("SELECT reason FROM rejections")
    assert answer[1] == "AA", (answer, reason)


# review 268 D2: a text naming a unit, not written as one alone, in a version place
@pytest.mark.parametrize(
    "obx6",
    [
        "mg/L^^UCUM^^^^mg/dl (Serum)",
        "mg/L^^UCUM^^^^^% (percent)",
        "mg/L^^UCUM^^^^IE/l (Serum)",  # review 272: unit words not read whole, passed over
        "mg/L^^UCUM^^^^10^mg/dL (Serum)",  # review 272: hidden behind a version number
        "mg/L^^UCUM^^^^(%)",  # review 273: a percent in brackets was passed over
        "mg/L^^UCUM^^^^lab:mg/dL",  # review 276: a unit after a label and a colon
        "mg/L^^UCUM^^^^Labor,mg/dL",  # review 278: and a comma
    ],
)
async def test_a_text_naming_another_unit_in_a_version_place_is_refused(
    lab: Lab, obx6: str
) -> None:
    answer = await _exchange(lab, "R268-D2", [f"NM|{CRP}||1.2|{obx6}|||||F|||{TS}"])
    stored = await lab.pool.fetch("SELECT value, unit FROM results")
    assert answer[1] == "AE" and not stored, (answer, [tuple(r) for r in stored])
