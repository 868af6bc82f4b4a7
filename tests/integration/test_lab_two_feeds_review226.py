"""One sample over HL7 and the lab's FHIR feed: what review 226 found the copy rule doing.
Patient MRN1, CRP of order ORD7; HL7 = LIS^HOSP over MLLP, FHIR = the lab's token,
identifier FILL=ORD7.

1. HL7 [F 13, W] withdrew the patient's chain; FHIR final 12 stands. An HL7 message
   [F 12, C 14] (or [W, F 12, C 14]) leaves F 12 out as the FHIR result's duplicate, so C 14
   corrects nothing stored: it was planned as correcting the left-out final and the service
   failed on the message (an internal error, again on resend). It is refused with a reason,
   as C 14 alone is in a message of its own."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import obx, oru
from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _reason
from tests.integration.test_lab_two_feeds_review192 import _send
from tests.integration.test_lab_two_feeds_review202 import _post, _standing

pytestmark = pytest.mark.integration


def _crp(control_id: str, *results: tuple[str, str]) -> str:
    return oru(control_id, [obx("1988-5", v, "mg/L", status=s) for v, s in results],
               order="ORD7")  # fmt: skip


@pytest.mark.parametrize("first_w", [True, False], ids=["withdrawn-again", "final-first"])
async def test_a_correction_after_a_final_left_out_as_the_other_feeds_is_refused(
    lab: Lab, first_w: bool
) -> None:
    ack = await _send(lab, _crp("H-1", ("13", "F"), ("12", "W")))
    assert ack[1] == "AA", ack
    status, _ = await _post(lab, _fhir_crp(12))
    assert status == 201
    shape = [("12", "W"), ("12", "F"), ("14", "C")] if first_w else [("12", "F"), ("14", "C")]
    ack = await _send(lab, _crp("H-0", ("14", "C")))  # C 14 in a message of its own
    alone = await _reason(lab)
    assert ack[1] == "AE" and alone.startswith("correction of a withdrawn result"), alone
    for attempt in range(2):  # and again on resend
        ack = await _send(lab, _crp("H-2", *shape))
        assert ack[1] == "AE", (attempt, ack)
        assert await _reason(lab) == alone
    assert [v for _, v in await _standing(lab)] == [12.0]
