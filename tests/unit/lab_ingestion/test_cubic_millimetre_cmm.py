"""The cubic millimetre written ``cmm`` is a microlitre, as ``cumm`` is.

``standard_form`` rewrote ``cumm`` to ``mm3`` (``K/cumm`` read beside 10*3/uL) but not
``cmm``, the other common laboratory spelling (``cells/cmm``, ``/cmm``, ``thou/cmm``): the
laboratory's correct count was refused until it resent. Its factor is still compared: a
thousand per cubic millimetre beside a count per microlitre is refused.
"""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.analytes import UnitConversion, resolve_unit
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.unit_factors import standard_form
from shared.contracts.events.lab import Analyte


@pytest.mark.parametrize(
    ("coded", "written"),
    [
        ("/uL", "/cmm"),
        ("/uL", "cells/cmm"),
        ("10*3/uL", "thou/cmm"),
        ("10*3/uL", "10^3/cmm"),
        ("10*3/uL", "K/cmm"),
    ],
)
def test_a_cubic_millimetre_written_cmm_is_the_coded_unit(coded: str, written: str) -> None:
    resolved = resolve_unit(Analyte.NEUTROPHILS, (coded, written))
    assert isinstance(resolved, UnitConversion), resolved
    assert resolved.source_unit == coded


@pytest.mark.parametrize(("coded", "written"), [("/uL", "thou/cmm"), ("10*9/L", "/cmm")])
def test_a_cubic_millimetre_of_another_factor_is_refused(coded: str, written: str) -> None:
    resolved = resolve_unit(Analyte.NEUTROPHILS, (coded, written))
    assert isinstance(resolved, Rejected) and resolved.code is RejectionCode.UNCONVERTIBLE_UNIT


@pytest.mark.parametrize(("text", "standard"), [("K/cmm", "K/mm3"), ("K/Xcmm", "K/Xcmm")])
def test_cmm_is_rewritten_only_as_a_whole_word(text: str, standard: str) -> None:
    assert standard_form(text) == standard
