"""Review 68: a number highlighted with HL7's ``\\H\\``...``\\N\\`` escapes is refused.

What real senders do: LIS that build the printed report and the HL7 result from one text
(Meditech, some Sunquest and Cerner configurations, and laboratory middleware) mark an
abnormal or critical value with HL7's highlighting escapes, defined for TX, FT (and CF):
``OBX|1|TX|...||\\H\\0.3\\N\\|10*9/L|...|LL``. Receivers show it in bold; the value is 0.3.

What goes wrong: python-hl7 replaces ``\\H\\`` and ``\\N\\`` by ``_`` and the value reads
``_0.3_``, which is no number: the message is refused ``non-numeric-value`` (AE), so the
critical count that was highlighted (a grade-4 ANC here) is the one lost. The README says
defined escapes around a number join nothing (``\\.br\\12.5\\.sk2\\`` is 12.5); the
highlighting pair is defined too.

What should happen: highlighting marks carry no text; the value is 0.3.

Suggested fix: ``adapters/hl7_escapes.bounded_unescape`` (read ``\\H\\`` and ``\\N\\`` as
nothing for the result fields), as ``\\.br\\`` around a number is read.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import NormalisedResult
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import plan_results

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.mark.parametrize("value_type", ["TX", "FT"])
def test_a_highlighted_critical_count_is_read_as_its_number(value_type: str) -> None:
    text = (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|HL-68|P|2.5.1\r"
        "PID|1||123456^^^HOSP^MR\r"
        "OBR|1|PLC1|FIL1|CBC^Blood count^L|||20261120081512+0100\r"
        f"OBX|1|{value_type}|NEUT^Neutrophils^L^751-8^Neutrophils^LN||\\H\\0.3\\N\\|10*9/L|"
        "1.8-7.5|LL|||F|||20261120081512+0100\r"
    )
    message, _ = parse_oru(text, identify=lambda s: "h" * 64)
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, list), planned
    [(_, result)] = planned
    assert isinstance(result, NormalisedResult) and result.value == 0.3
