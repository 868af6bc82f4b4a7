"""Review 70 (mutation testing): a sample collected at the very moment of the withdrawal.

A sample fits the withdrawn subject's time in the trial when collected *by* the withdrawal
(withdrawal._fitting: ``<=``), and a correction of their result is refused only for a
sample collected *after* it (``_collected_after``: ``>``). The tests took samples a day
before and six hours after: a correction at the withdrawal's own minute was refused by the
mutant ``>=`` with every test passing, though a new result of that sample is the subject's."""

from __future__ import annotations

from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.test_withdrawal import S1, WITHDRAWN, sent, whose


def test_a_correction_of_a_sample_collected_at_the_withdrawal_is_the_subjects() -> None:
    assert whose(sent(("K1", "C", WITHDRAWN)), None, (S1,)) == "S-1"


def test_a_new_result_collected_at_the_withdrawal_is_the_subjects() -> None:
    assert whose(sent(("K2", "F", WITHDRAWN)), None, (S1,)) == "S-1"


def test_a_correction_and_a_sample_both_collected_at_the_withdrawal_are_the_subjects() -> None:
    """Consistency of the two rules at the boundary: the same instant is inside the
    subject's time for a correction as for a new result."""
    verdict = whose(sent(("K1", "C", WITHDRAWN), ("K2", "F", WITHDRAWN)), None, (S1,))
    assert verdict == "S-1", verdict
    assert verdict is not RejectionCode.SUBJECT_WITHDRAWN


def test_a_correction_of_another_patients_result_is_never_made_that_patients() -> None:
    """Key K9 holds S-3's result (another patient, another identifier). A message naming
    the patient withdrawn as S-1 (or enrolled as S-4) that corrects it is never attributed
    to S-3 (withdrawal: "another patient's result: planning refuses it for whoever's this
    is"); attributed to S-3, the correction would be applied to S-3's chain under another
    person's identifier."""
    assert whose(sent(("K9", "C", WITHDRAWN)), None, (S1,)) != "S-3"
    assert whose(sent(("K9", "C", WITHDRAWN)), "S-4", (S1,)) == "S-4"
    assert whose(sent(("K9", "X", None)), "S-4", (S1,)) == "S-4"
