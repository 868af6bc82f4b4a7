"""Review 68: common, unambiguous count units are refused (``unconvertible-unit``, AE), so
every CBC of such a laboratory is refused.

What real senders write in OBX-6 for neutrophils and platelets:

- ``THOU/uL`` / ``Thou/uL``: the README accepts ``thou/uL`` and ``Thousand/uL``, and
  upper-cased spellings (``K/UL``, ``10*3/UL``), but ``recognise_unit`` gives up on any
  spelling whose case is mixed and not listed exactly. US LIS result text (Sunquest,
  Meditech, Cerner's "THOU/uL" display) writes the prefix in capitals and keeps the
  micro-litre as ``uL``.
- ``Gpt/l``: German laboratories (Gigapartikel pro Liter) write the litre in lower case, as
  the README already accepts for ``Giga/l`` and ``G/l``; only ``Gpt/L`` is listed.
- ``10*3/mm3``: a valid UCUM code (mm3 is a microlitre; the README accepts ``/mm3``,
  ``K/mm3`` and ``10^3/mm3``, and says UCUM codes are recognised), written by LIS that keep
  the old "per cubic millimetre" (Latin America, France, US reference labs).

None of these can be another unit: a careful engine reads them as 10*3/uL (= 10*9/L). Here
the whole message is answered AE; until somebody remaps the unit in the engine, the
subject's neutrophil and platelet counts (dose holds at grade 3) reach no rule.

Suggested fix: ``domain/unit_spellings.UNIT_SPELLINGS`` (add the spellings) and/or
``recognise_unit`` (fold the case of a known prefix word such as ``thou`` separately from the
volume unit), and accept UCUM's ``mm3`` wherever ``uL`` is accepted.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import NormalisedResult
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import plan_results

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _message(code: str, value: str, unit: str) -> str:
    return (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|CBC-68-3|P|2.5.1\r"
        "PID|1||123456^^^HOSP^MR\r"
        "OBR|1|PLC1|FIL1|CBC^Blood count^L|||20261120081512+0100\r"
        f"OBX|1|NM|{code}||{value}|{unit}||N|||F|||20261120081512+0100\r"
    )


@pytest.mark.parametrize(
    ("code", "value", "unit", "expected"),
    [
        ("PLT^Platelets^L^777-3^Platelets^LN", "42", "THOU/uL", 42.0),
        ("NEUT^Neutrophils^L^751-8^Neutrophils^LN", "0.8", "Thou/uL", 0.8),
        ("PLT^Thrombozyten^L^777-3^Platelets^LN", "42", "Gpt/l", 42.0),
        ("NEUT^Neutrophile^L^751-8^Neutrophils^LN", "0.8", "Gpt/l", 0.8),
        ("PLT^Plaquettes^L^777-3^Platelets^LN", "42", "10*3/mm3", 42.0),
        ("NEUT^Neutrophiles^L^751-8^Neutrophils^LN", "0.8", "10*3/mm3", 0.8),
    ],
)
def test_an_unambiguous_count_unit_is_converted(
    code: str, value: str, unit: str, expected: float
) -> None:
    message, _ = parse_oru(_message(code, value, unit), identify=lambda s: "h" * 64)
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, list), f"{unit!r} refused: {planned}"
    [(_, result)] = planned
    assert isinstance(result, NormalisedResult)
    assert result.unit == "10*9/L" and result.value == expected
