"""Review 68: a trial analyte coded with the LOINC code of its method or unit kind is
acknowledged AA and silently dropped.

What real senders do: LIS build their LOINC map per *test definition*, and the test
definition differs by method and by reporting unit:

- When the analyser flags a differential (blasts, very low WBC, platelet clumps), the
  laboratory does a smear review / manual differential and reports the counts under the
  manual test: Epic Beaker, Cerner PathNet and Sunquest all map that test to LOINC 753-4
  (Neutrophils [#/volume] in Blood by Manual count) and 778-1 (Platelets [#/volume] in Blood
  by Manual count). It is exactly the severely neutropenic or thrombocytopenic patient whose
  count comes this way.
- European laboratories reporting total bilirubin in umol/L and haemoglobin in mmol/L map
  them, as LOINC says they should, to 14631-6 and 59260-0 (the moles codes); PROTOCOL
  section 6 itself lists the umol/L and mmol/L conversions for these analytes, and accepts
  the moles code of creatinine (14682-9).

What goes wrong: ``analyte_codes.SAME_TEST_CODES`` knows these four codes are the trial
analyte, but only uses that to avoid an ``ambiguous-analyte`` beside the main code; alone,
the observation is "another test's" and left out. In a CBC or liver panel the rest of the
message is stored and the laboratory is answered ``AA``: a grade-4 ANC (0.3 x10^9/L) or
platelet count (20 x10^9/L) never reaches safety-alerting or the dose rules (hold), and
nothing is kept in the rejection table for anyone to notice. (Alone in its message it is
refused ``unknown-analyte``, i.e. "the message holds no result of a trial analyte", which
tells the laboratory the test is not wanted.)

The unit is checked either way (``normalise``), so taking these codes as their analyte is
as safe as taking 751-8: a careful engine would store them (or at least refuse the message
rather than acknowledge it and drop the count).

Suggested fix: ``domain/analyte_codes.identify_analyte`` (and PROTOCOL section 6's code
list): identify a trial analyte by ``SAME_TEST_CODES`` too when no main code is present.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import NormalisedResult
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor, recorded

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _cbc(*obx: str) -> str:
    return (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01^ORU_R01|CBC-68|P|2.5.1\r"
        "PID|1||MRN1^^^HOSP^MR\r"
        "ORC|RE|PLC1|FIL1||CM\r"
        "OBR|1|PLC1|FIL1|CBC^Blood count^L|||20261120081512+0100|||||||||||||||"
        "20261120101500+0100|||F\r" + "".join(f"{segment}\r" for segment in obx)
    )


def _obx(n: int, code: str, value: str, unit: str, reference: str, flag: str) -> str:
    return f"OBX|{n}|NM|{code}||{value}|{unit}|{reference}|{flag}|||F|||20261120081512+0100"


# (the observation sent alone under its method's or unit kind's code, a routine companion
# coded with its main code, the analyte and value expected)
CASES = [
    pytest.param(
        _obx(
            1,
            "NEUTM^Neutrophils (manual)^L^753-4^Neutrophils Manual cnt^LN",
            "0.3",
            "10*9/L",
            "1.8-7.5",
            "LL",
        ),
        _obx(2, "PLT^Platelets^L^777-3^Platelets^LN", "250", "10*9/L", "150-400", "N"),
        "neutrophils",
        0.3,
        id="manual-differential-ANC-753-4",
    ),
    pytest.param(
        _obx(
            1,
            "PLTM^Platelets (manual)^L^778-1^Platelets Manual cnt^LN",
            "20",
            "10*3/uL",
            "150-400",
            "LL",
        ),
        _obx(2, "NEUT^Neutrophils^L^751-8^Neutrophils^LN", "2.0", "10*9/L", "1.8-7.5", "N"),
        "platelets",
        20.0,
        id="smear-platelet-count-778-1",
    ),
    pytest.param(
        _obx(
            1,
            "BILT^Bilirubin total^L^14631-6^Bilirubin total [Moles/vol]^LN",
            "95",
            "umol/L",
            "3-21",
            "HH",
        ),
        _obx(2, "ALT^ALT^L^1742-6^ALT^LN", "35", "U/L", "0-40", "N"),
        "bilirubin",
        95 / 17.1,
        id="bilirubin-umol-14631-6",
    ),
    pytest.param(
        _obx(
            1,
            "HB^Hemoglobine^L^59260-0^Hemoglobin [Moles/vol]^LN",
            "4.2",
            "mmol/L",
            "7.4-9.9",
            "LL",
        ),
        _obx(2, "PLT^Trombocyten^L^777-3^Platelets^LN", "250", "10*9/L", "150-400", "N"),
        "haemoglobin",
        4.2 * 1.611,
        id="haemoglobin-mmol-59260-0",
    ),
]


@pytest.mark.parametrize(("coded", "companion", "analyte", "expected"), CASES)
def test_a_trial_count_coded_by_its_method_or_unit_kind_is_kept(
    coded: str, companion: str, analyte: str, expected: float
) -> None:
    """The count under its manual / moles LOINC code is planned as its analyte, converted."""
    message, _ = parse_oru(_cbc(coded, companion), identify=lambda s: "h" * 64)
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, list), planned
    values = {r.analyte.value: r.value for _, r in planned if isinstance(r, NormalisedResult)}
    assert analyte in values, (
        f"{analyte} sent under its method/unit-kind LOINC was left out; only {sorted(values)} "
        "planned, and the message is answered AA"
    )
    assert values[analyte] == pytest.approx(expected, rel=1e-6)


async def test_a_grade4_manual_anc_is_not_acknowledged_and_dropped() -> None:
    """End to end through the batch ingestor: the CBC is answered AA ('1 result(s) stored')
    while the grade-4 manual ANC (0.3 x10^9/L) is neither stored nor kept as a rejection."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    text = _cbc(
        _obx(
            1,
            "NEUTM^Neutrophils (manual)^L^753-4^Neutrophils Manual cnt^LN",
            "0.3",
            "10*9/L",
            "1.8-7.5",
            "LL",
        ),
        _obx(2, "PLT^Platelets^L^777-3^Platelets^LN", "250", "10*9/L", "150-400", "N"),
    )
    lab, _ = parse_oru(text, identify=lambda s: f"h({s})")
    (outcome,) = await ingestor(db)(
        [IngestLabMessage(lab, lambda: "", RECEIVED - timedelta(hours=1))]
    )
    emitted = sorted(value for _, value, _ in recorded(db))
    rejected = [t for t, _ in db.events if t == "lab.rejected.v1"]
    # either the ANC is stored, or the message is refused and kept: never AA without it
    assert 0.3 in emitted or (not outcome.accepted and rejected), (
        f"answered accepted={outcome.accepted} with results={outcome.results}; emitted "
        f"{emitted}: the grade-4 ANC was acknowledged and silently dropped"
    )
