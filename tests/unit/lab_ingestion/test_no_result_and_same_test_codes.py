"""What review 65 found in the OBX-11 and LOINC changes of review 64 (each failed before).

1. An observation whose OBX-11 says it holds no result (I, O, N) is said to be "left out as
   another test's is: nothing of it checked" (README, ``result_status``). The HL7 parser still
   reads it strictly as a trial result (its OBX-3 names a trial analyte), so an escape HL7 does
   not define in a pending CRP's OBX-5 text rejects the whole message ``malformed-message``,
   losing the final grade-4 neutrophil count beside it; the same text in another test's
   observation is read leniently and the neutrophils are stored.
2. ``other_tests`` refuses a LOINC code the trial's table does not list beside the analyte's
   code. The table lists creatinine's molar code (14682-9) beside its mass code (2160-0), but not
   total bilirubin's (14631-6) nor haemoglobin's (59260-0): the same test reported with both of
   its LOINC codes (mass and molar) is refused as "different tests" for bilirubin and
   haemoglobin, while it is accepted for creatinine.
3. A first X alone leaves no trace: resent under its own id it is a duplicate, under another
   a new message storing nothing (README).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
)
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS, normalise
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.events.lab import Analyte, Channel
from tests.unit.lab_ingestion.hl7_samples import join, msh, seg
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

COLLECTED = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# --- 1. a pending result is still read strictly -----------------------------------------------


def _cbc_with(second_obx: dict[int, str]) -> str:
    return join([
        msh(),
        seg("PID", {3: "MRN1^^^HOSP^MR"}),
        seg("OBR", {1: "1", 3: "ORD1", 7: "20261120080000+0100"}),
        seg("OBX", {1: "1", 2: "NM", 3: "751-8^Neutrophils^LN", 5: "0.3", 6: "10*9/L",
                    11: "F", 14: "20261120080000+0100"}),
        seg("OBX", second_obx),
    ])  # fmt: skip


@pytest.mark.parametrize("status", ["I", "O", "N"])
def test_a_pending_crp_with_an_unreadable_escape_does_not_lose_the_final_neutrophils(
    status: str,
) -> None:
    """The pending CRP's text is never read (no value, left out as another test's is), so an
    escape HL7 does not define in it must not reject the grade-4 neutrophil count beside it,
    as it does not in another test's observation (control below)."""
    pending = {1: "2", 2: "ST", 3: "1988-5^CRP^LN", 5: "to follow \\Q\\", 11: status}
    other_test = {1: "2", 2: "ST", 3: "2093-3^Cholesterol^LN", 5: "to follow \\Q\\", 11: "F"}
    control, _ = parse_oru(_cbc_with(other_test))  # another test's: read leniently
    assert len(control.observations) == 2
    try:
        message, _ = parse_oru(_cbc_with(pending))
    except Exception as error:
        pytest.fail(
            f"a CRP with OBX-11 {status!r} (no result: left out, nothing of it checked) "
            f"rejected the whole message, and the final neutrophil count 0.3 x10^9/L (grade "
            f"4, a dose hold) with it: {getattr(error, 'reason', error)}"
        )
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert not isinstance(planned, Rejected), planned
    assert [(n.analyte, n.value) for _, n in planned if n is not None] == [
        (Analyte.NEUTROPHILS, 0.3)
    ]


# --- 2. one test under its mass and molar LOINC codes -----------------------------------------


def _result(codes: tuple[Coding, ...], value: str, unit: str) -> ObservationInput:
    return ObservationInput("ORD1|x|", codes, value, (unit,), status="F", collected_at=COLLECTED)


def test_creatinine_under_its_mass_and_molar_loinc_codes_is_one_result() -> None:
    codes = (Coding("2160-0", "LN", "Creatinine"), Coding("14682-9", "LN", "Creatinine molar"))
    assert isinstance(normalise(_result(codes, "1.0", "mg/dL")), NormalisedResult)


@pytest.mark.parametrize(
    ("codes", "value", "unit"),
    [
        # total bilirubin [Mass/volume] and total bilirubin [Moles/volume] in serum or plasma
        (
            (Coding("1975-2", "LN", "Bilirubin total"), Coding("14631-6", "LN", "Bilirubin total")),
            "0.8",
            "mg/dL",
        ),
        (
            (Coding("14631-6", "LN", "Bilirubin total"), Coding("1975-2", "LN", "Bilirubin total")),
            "14",
            "umol/L",
        ),
        # haemoglobin [Mass/volume] and [Moles/volume] in blood (a Dutch lab's mmol/L)
        (
            (Coding("718-7", "LN", "Hemoglobin"), Coding("59260-0", "LN", "Hemoglobin")),
            "8.1",
            "mmol/L",
        ),
    ],
)
def test_one_test_under_its_mass_and_molar_loinc_codes_is_not_two_tests(
    codes: tuple[Coding, ...], value: str, unit: str
) -> None:
    result = normalise(_result(codes, value, unit))
    assert isinstance(result, NormalisedResult), (
        "the same test under both of its LOINC codes (mass and molar concentration) was "
        f"refused as two different tests, as creatinine's pair is not: {result}"
    )


# --- 3. a first X alone, resent under another id ------------------------------------------------

PLATELETS_NOT_OBTAINED = ObservationInput(
    "ORD1|777-3|", (Coding("777-3", "LN"),), "", (), status="X", collected_at=COLLECTED
)


def _ingest(control_id: str, *observations: ObservationInput) -> IngestLabMessage:
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", control_id, "MRN1", observations)
    return IngestLabMessage(message, lambda: "", RECEIVED)


async def test_a_first_x_alone_is_a_duplicate_under_its_own_id_only() -> None:
    """It leaves no trace under its key, so resent under another id it is a new message that
    again stores nothing (no duplicate to tell it by); under its own id it is a duplicate."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    (first,) = await ingest([_ingest("1", PLATELETS_NOT_OBTAINED)])
    assert first.accepted and not first.duplicate
    (again,) = await ingest([_ingest("1", PLATELETS_NOT_OBTAINED)])
    assert again.accepted and again.duplicate
    (other_id,) = await ingest([_ingest("2", PLATELETS_NOT_OBTAINED)])
    assert other_id.accepted and not other_id.duplicate
    assert db.results == [] and db.events == []
