"""Review 226 (D4): a final result left out as the duplicate of the lab's other feed's result
(``check_earlier_results(copies=...)``) is stored nowhere, so a correction after it in its
message corrects nothing of it: it was planned as correcting the left-out final and stored
superseding none (an internal error on valid input). It finds its chain as the copy found
it: under the patient's withdrawn chain, refused as the correction of a withdrawn result."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from services.lab_ingestion.domain.chain_contents import content_of
from services.lab_ingestion.domain.model import LabMessage, ObservationInput, Rejected
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import check_earlier_results, plan_results
from services.lab_ingestion.domain.records import WithdrawnVersion
from services.lab_ingestion.domain.result_status import CANCELLING, EMITTED
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_copies_review202 import HL7_KEY, SAMPLE
from tests.unit.lab_ingestion.test_copies_review209 import CRP, STATUSES


def _message(*results: tuple[str, str]) -> LabMessage:
    observations = tuple(
        ObservationInput(HL7_KEY[1], CRP, v, ("mg/L",), status=s, collected_at=SAMPLE)
        for v, s in results
    )
    return LabMessage(Channel.MLLP, "LIS", "HOSP", "M-1", "MRN1", observations)


def _planned(message: LabMessage) -> list:  # type: ignore[type-arg]
    planned = plan_results(message, UnitParameters(), SAMPLE + timedelta(hours=1))
    assert not isinstance(planned, Rejected)
    return planned


def _check(
    message: LabMessage, copies: frozenset[int], *, withdrawn: bool = False
) -> Rejected | list[int]:
    """S-1's message checked against its key's chain, holding nothing (``withdrawn``: the
    patient's chain of a final 13 withdrawn there): the positions of the results kept."""
    gone = {}
    if withdrawn:
        [(_, thirteen)] = _planned(_message(("13", "F")))
        assert thirteen is not None
        version = WithdrawnVersion("S-1", "crp", content_of(thirteen, SAMPLE))
        gone = {HL7_KEY: frozenset({version})}
    checked = check_earlier_results(
        message, _planned(message), "S-1", {}, withdrawn=gone, copies=copies
    )
    if isinstance(checked, Rejected):
        return checked
    return [next(i for i, p in enumerate(message.observations) if p is o) for o, _ in checked]


def test_a_correction_after_a_copy_in_its_message_is_refused_as_of_a_withdrawn_result() -> None:
    for shape in ([("12", "F"), ("14", "C")], [("12", "W"), ("12", "F"), ("14", "C")]):
        copy = frozenset({len(shape) - 2})
        refused = _check(_message(*shape), copy, withdrawn=True)
        assert isinstance(refused, Rejected), refused
        alone = _check(_message(("14", "C")), frozenset(), withdrawn=True)
        assert isinstance(alone, Rejected)
        assert (refused.code, refused.reason) == (alone.code, alone.reason)
        assert refused.observation == len(shape) - 1
    # not a copy: the final starts a new chain (another value than the withdrawn one), which
    # its correction corrects
    assert _check(_message(("12", "F"), ("14", "C")), frozenset(), withdrawn=True) == [0, 1]


@given(
    st.lists(st.tuples(st.sampled_from(STATUSES), st.sampled_from(["12", "13", "14"])),
             min_size=1, max_size=5),
    st.sets(st.integers(min_value=0, max_value=4)),
    st.booleans(),
)  # fmt: skip
@example([("F", "12"), ("C", "14")], {0}, False)
@example([("W", "12"), ("F", "12"), ("C", "14")], {1}, True)
def test_a_kept_correction_always_has_a_kept_result_of_its_message_to_correct(
    results: list[tuple[str, str]], copies: set[int], withdrawn: bool
) -> None:
    """Under a key holding no chain, every correction kept follows a result of its message
    that is stored (a final or correction kept and not left out as a copy), with no
    cancellation kept between: it never supersedes a result stored nowhere."""
    message = _message(*[(v, s) for s, v in results])
    marked = frozenset(i for i in copies if i < len(results) and results[i][0] == "F")
    kept = _check(message, marked, withdrawn=withdrawn)
    if isinstance(kept, Rejected):
        return
    stored = False
    for i in kept:
        status = results[i][0]
        if status == "C":
            assert stored, (results, marked, kept)
        if status in EMITTED and i not in marked:
            stored = True
        elif status in CANCELLING:
            stored = False
