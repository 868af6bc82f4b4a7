"""Over the real MLLP socket and FHIR endpoint (PostgreSQL, broker; review 259): three ways
a trial number was read otherwise than written.

- D1: OBX-6's original text (CWE-9) was never read, so a unit there that disagreed with
  component 1 was passed over: a neutrophil count ``55`` with ``10*9/L^^UCUM^^^^^^%`` was
  published as 55 10*9/L, a CRP ``12`` in ``mg/dL^^UCUM^^^^^^mg/L`` as 120 mg/L. Units that
  disagree, in any component or repetition, are refused ``unconvertible-unit``; a unit
  written there alone is read; CWE-7 and 8 (coding system version ids) are never a unit.
- D3: an SN value's components after SN.4 were dropped (``^12^^^99`` published as 12):
  refused ``non-numeric-value``, as the same text under NM is; empty ones stay accepted.
- D2: a reference range's lower limit written ``-0`` (OBX-7 ``-0-5``, FHIR low -0.0) was
  stored and published as -0.0: it is 0, as the value ``-0`` is.
"""

from __future__ import annotations

import math

import pytest

from shared.contracts.topics import LAB_RESULTS
from tests.integration.lab_fixtures import TS, crp_observation, msa, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_laboratory_comments import post

pytestmark = pytest.mark.integration

CRP, ANC = "1988-5^CRP^LN", "751-8^ANC^LN"


async def _exchange(lab: Lab, control_id: str, segment: str) -> list[str]:
    client = await lab.mllp()
    try:
        return msa(await client.exchange(oru(control_id, [segment])))
    finally:
        await client.close()


async def _refused_as(lab: Lab, control_id: str, segment: str, code: str) -> None:
    """The message is answered AE and its one result refused ``code``: nothing stored."""
    answer = await _exchange(lab, control_id, segment)
    assert answer[1:3] == ["AE", control_id], answer
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0
    assert await lab.pool.fetchval("SELECT reason_code FROM rejections") == code


async def _stored_as(lab: Lab, control_id: str, segment: str) -> tuple[float, str, str]:
    """The one result stored and published: (value, unit, original unit), which agree."""
    answer = await _exchange(lab, control_id, segment)
    assert answer[1:3] == ["AA", control_id], answer
    row = await lab.pool.fetchrow("SELECT value, unit, original_unit FROM results")
    assert row is not None
    (event,) = await lab.events(LAB_RESULTS, 1)
    published = (event.payload["value"], event.payload["unit"], event.payload["original_unit"])
    assert tuple(row) == published, (tuple(row), published)
    return published


@pytest.mark.parametrize(
    ("code", "obx6"),
    [
        (ANC, "10*9/L^^UCUM^^^^^^%"),  # original text: a percentage, not a count
        (CRP, "mg/dL^^UCUM^^^^^^mg/L"),  # a tenfold choice
        (ANC, "10^9/L^^UCUM^^^^^^%"),  # the unit's caret unescaped: CWE-9 one further on
        (CRP, "mg/dL~^^^^^^^^mg/L"),  # in a later repetition's original text
        (CRP, "mg/dL^^^^^^mg/L"),  # carets miscounted: a unit in a version id's place
    ],
)
async def test_an_original_text_naming_another_unit_is_refused(
    lab: Lab, code: str, obx6: str
) -> None:
    segment = f"NM|{code}||12|{obx6}|||||F|||{TS}"
    await _refused_as(lab, "R259-D1", segment, "unconvertible-unit")


@pytest.mark.parametrize(
    ("obx6", "stored"),
    [
        ("^^^^^^^^mg/dL", (12.0, "mg/L", "mg/dL")),  # its only unit: read
        ("mg/L^^UCUM^^^^^^mg/L", (1.2, "mg/L", "mg/L")),  # agreeing
        ("mg/L^^UCUM^^^^2.1^v2^mg/L", (1.2, "mg/L", "mg/L")),  # version ids: no unit
        ("mg/L^mg/L^UCUM^^^^2.1", (1.2, "mg/L", "mg/L")),
        ("mg/L^^^^^^mg/L", (1.2, "mg/L", "mg/L")),  # misplaced, agreeing
    ],
)
async def test_an_original_text_naming_the_unit_is_read(
    lab: Lab, obx6: str, stored: tuple[float, str, str]
) -> None:
    segment = f"NM|{CRP}||1.2|{obx6}|||||F|||{TS}"
    assert await _stored_as(lab, "R259-D1", segment) == stored


async def test_a_version_id_alone_is_no_unit(lab: Lab) -> None:
    segment = f"NM|{CRP}||12|^^^^^^2.1|||||F|||{TS}"
    await _refused_as(lab, "R259-D1", segment, "missing-unit")


@pytest.mark.parametrize("value", ["^12^^^99", "^12^^^^^^^^^^13", "<^5^^^^^^^^>"])
async def test_sn_components_after_the_fourth_are_refused(lab: Lab, value: str) -> None:
    segment = f"SN|{CRP}||{value}|mg/L|||||F|||{TS}"
    await _refused_as(lab, "R259-D3", segment, "non-numeric-value")


async def test_sn_empty_trailing_components_stay_accepted(lab: Lab) -> None:
    segment = f"SN|{CRP}||^12^^^^|mg/L|||||F|||{TS}"
    assert await _stored_as(lab, "R259-D3", segment) == (12.0, "mg/L", "mg/L")
    assert await lab.pool.fetchval("SELECT original_value FROM results") == "12"


async def _zero_lower_limit(lab: Lab) -> None:
    """The one result's lower limit is 0, stored and published, never -0.0."""
    stored = await lab.pool.fetchval("SELECT reference_low FROM results")
    (raw,) = await lab.read(LAB_RESULTS, 1)
    (event,) = await lab.events(LAB_RESULTS, 1)
    low = event.payload["reference_low"]
    assert (stored, low) == (0.0, 0.0)
    assert math.copysign(1, stored) == math.copysign(1, low) == 1.0, (stored, low)
    assert b"-0.0" not in raw


async def test_a_range_from_minus_zero_over_hl7_is_stored_from_zero(lab: Lab) -> None:
    answer = await _exchange(lab, "R259-D2", f"NM|{CRP}||12|mg/L|-0-5|H|||F|||{TS}")
    assert answer[1] == "AA", answer
    await _zero_lower_limit(lab)


async def test_a_range_from_minus_zero_over_fhir_is_stored_from_zero(lab: Lab) -> None:
    resource = crp_observation("OBS-R259-D2")
    quantity = {"unit": "mg/L", "system": "http://unitsofmeasure.org", "code": "mg/L"}
    resource["referenceRange"] = [
        {"low": {"value": -0.0, **quantity}, "high": {"value": 5, **quantity}}
    ]
    assert await post(lab, "/fhir/Observation", resource) == 201
    await _zero_lower_limit(lab)
