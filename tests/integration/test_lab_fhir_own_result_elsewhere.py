"""Review 250, D2: the lab's FHIR final stored under [FILL ORD7, R-1], then its change naming
R-1 alone finds nothing under that identifier: refused ``unknown-corrected-result`` telling the
lab to send it under the identifiers the result was first sent under, never "through sender
'central-lab^FHIR'" (the sender itself) as if another sender held it."""

from __future__ import annotations

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _fhir_sender, _reason
from tests.integration.test_lab_two_feeds_review202 import LATER, _post, _standing
from tests.integration.test_lab_two_feeds_review237 import FILL_ORD7, R1

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("status", "verb"), [("entered-in-error", "withdraw"),
                                              ("corrected", "correct")])  # fmt: skip
async def test_a_change_naming_one_identifier_of_the_senders_own_result_is_told_to_name_them(
    lab: Lab, status: str, verb: str
) -> None:
    assert (await _post(lab, _fhir_crp(13) | {"identifier": [FILL_ORD7, R1]}))[0] == 201
    change = _fhir_crp(14, status, issued=LATER) | {"identifier": [R1]}
    answer = await _post(lab, change)
    reason = await _reason(lab)
    assert answer[0] == 422 and "unknown-corrected-result" in answer[1], answer
    assert reason.startswith(f"{verb} it under the identifiers it was first sent under"), reason
    sender = await _fhir_sender(lab)
    assert f"this sender's ({sender!r}) own result of this test" in reason, reason
    assert f"through sender {sender!r}" not in reason, reason  # never as if another held it
    assert await _standing(lab) == [(sender, 13.0)]  # nothing changed
