"""An HL7 order's own status (OBR-25, ORC-1) where it says what no OBX-11 says (review 133).

Found by review 133: lab-ingestion never read ORC-1 nor OBR-25. A Cerner-style cancellation
of a whole order (``ORC|OC``, OBR-25 ``X``, no OBX) after a CRP was stored under the order
was answered "the message holds no result of a trial analyte" (of no interest: nobody
follows up) while the cancelled CRP kept driving titration; a final CRP (OBX-11 F) under
OBR-25 X was stored and published as final. Both are refused now (``unknown-result-status``,
ERR at OBR-25, or ORC-1 when only it says so); an order's status lagging its results' (OBR-25
P over OBX-11 F, F over P) is read as before: the result's status counts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_ack import MSA3_LENGTH
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.hl7_error_location import ErrorLocation, error_location
from services.lab_ingestion.domain.message_identity import content_digest
from services.lab_ingestion.domain.model import (
    LabMessage,
    OrderCancelled,
    Place,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import plan_results

RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MSH = "MSH|^~\\&|HNAM|KSA|LENA|TRIAL|20261120091523+0100||ORU^R01|C-1|P|2.3"
PID = "PID|1||MRN4711^^^KSA^MR||DOE^JOHN||19580214|M"
COLLECTED = "20261110081500+0100"
CRP = "OBX|1|NM|1988-5^CRP^LN||{value}|mg/L|0-5|H|||{status}|||" + COLLECTED
GLUCOSE = "OBX|1|NM|2345-7^Glucose^LN||5.1|mmol/L|||||F|||" + COLLECTED


def obr(order: str, status: str = "") -> str:
    """An OBR of ``order`` whose OBR-25 is ``status``."""
    return f"OBR|1|{order}|ACC{order}|CRP^CRP^99CRNR|||{COLLECTED}" + "|" * 18 + status


def message(*segments: str) -> LabMessage:
    return parse_oru("\r".join([MSH, PID, *segments]) + "\r")[0]


def plan(*segments: str) -> Rejected | list[object]:
    planned = plan_results(message(*segments), DEFAULT_UNIT_PARAMETERS, RECEIVED)
    return planned if isinstance(planned, Rejected) else list(planned)


def test_an_order_cancelled_with_no_result_under_it_is_read_with_where_it_says_so() -> None:
    assert message("ORC|OC|7001", obr("7001", "X")).cancelled_order == OrderCancelled(
        "OBR-25 X", "order cancelled", Place("OBR", 1, 25)
    )
    # OBR-25 empty: ORC-1 says it, of the ORC opening the order (the second ORC here)
    second = message(
        "ORC|RE|7000", obr("7000", "F"), CRP.format(value="9", status="F"),
        "ORC|CA|7001", obr("7001"),
    )  # fmt: skip
    assert second.cancelled_order == OrderCancelled(
        "ORC-1 CA", "order cancelled", Place("ORC", 2, 1)
    )
    # discontinued (DC, OD, DR): work stopped, what was reported stays valid (review 135)
    for control in ("DC", "OD", "DR"):
        assert message(f"ORC|{control}|7001", obr("7001")).cancelled_order is None
    assert message("ORC|oc|7001", obr("7001", "d")).cancelled_order == OrderCancelled(
        "OBR-25 D", "order deleted", Place("OBR", 1, 25)
    )
    # an order with results under it, or one not cancelled, says nothing of the kind; nor
    # does ORC-1 where OBR-25 says something else (the order's own status is read first)
    assert message("ORC|OC|7001", obr("7001", "X"), GLUCOSE).cancelled_order is None
    assert message("ORC|RE|7001", obr("7001", "F")).cancelled_order is None
    assert message("ORC|OC|7001", obr("7001", "F")).cancelled_order is None
    assert message(obr("7001", "P")).cancelled_order is None


def test_an_order_cancelled_as_a_whole_is_refused_for_what_it_is() -> None:
    refused = plan("ORC|OC|7001", obr("7001", "X"))
    assert isinstance(refused, Rejected)
    assert refused.code is RejectionCode.UNKNOWN_STATUS
    assert refused.place == Place("OBR", 1, 25) and refused.observation is None
    assert "OBR-25 X" in refused.reason and "OBX-11 X or D" in refused.reason
    by_control = plan("ORC|CR|7001", obr("7001"))
    assert isinstance(by_control, Rejected) and by_control.place == Place("ORC", 1, 1)
    assert "ORC-1 CR" in by_control.reason
    # another test's result under it: no trial result, as before
    other = plan("ORC|OC|7001", obr("7001", "X"), GLUCOSE)
    assert isinstance(other, Rejected) and other.code is RejectionCode.UNKNOWN_ANALYTE
    # a trial result pending under another order: as before (the message holds a trial OBX)
    pending = plan("ORC|RE|7000", obr("7000"), CRP.format(value="", status="I"),
                   "ORC|OC|7001", obr("7001", "X"))  # fmt: skip
    assert isinstance(pending, Rejected) and pending.code is RejectionCode.UNKNOWN_ANALYTE


@pytest.mark.parametrize(
    ("control", "order", "said", "place"),
    [
        ("OC", "X", "OBR-25 X (order cancelled)", Place("OBR", 2, 25)),
        ("RE", "D", "OBR-25 D (order deleted)", Place("OBR", 2, 25)),
        ("OC", "", "ORC-1 OC (order cancelled)", Place("ORC", 2, 1)),
        ("CA", "", "ORC-1 CA (order cancelled)", Place("ORC", 2, 1)),
    ],
)
@pytest.mark.parametrize("status", ["F", "C", "P", "R"])
def test_a_result_holding_a_value_under_a_cancelled_order_is_refused(
    control: str, order: str, said: str, place: Place, status: str
) -> None:
    first = ("ORC|RE|7000", obr("7000"), CRP.format(value="9", status="F"))
    then = (f"ORC|{control}|7002", obr("7002", order), CRP.format(value="53", status=status))
    refused = plan(*first, *then)
    assert isinstance(refused, Rejected), refused
    assert refused.code is RejectionCode.UNKNOWN_STATUS
    assert refused.observation == 1 and refused.place == place
    assert refused.reason.startswith(f"{said} contradicts OBX-11 {status}:"), refused.reason
    assert "cannot be told" in refused.reason and len(refused.reason) <= MSA3_LENGTH


@pytest.mark.parametrize(
    ("control", "order", "status"),
    [("OC", "P", "F"), ("RE", "F", "P"), ("RE", "", "F"), ("OC", "X", "X"), ("OC", "", "D")],
)
def test_an_order_status_lagging_its_results_is_as_before(
    control: str, order: str, status: str
) -> None:
    observation = CRP.format(value="" if status in "XD" else "53", status=status)
    planned = plan(f"ORC|{control}|7001", obr("7001", order), observation)
    assert not isinstance(planned, Rejected), planned
    assert len(planned) == 1


def test_reasons_fit_msa3_and_name_the_field() -> None:
    for segments in (
        ("ORC|OC|7001", obr("7001", "X")),
        ("ORC|CA|7001", obr("7001")),
        ("ORC|OC|7001", obr("7001", "D"), CRP.format(value="53", status="C")),
    ):
        refused = plan(*segments)
        assert isinstance(refused, Rejected) and len(refused.reason) <= MSA3_LENGTH
    assert error_location(
        RejectionCode.UNKNOWN_STATUS, 0, place=Place("OBR", 2, 25)
    ) == ErrorLocation("OBR", 2, 25)
    assert error_location(RejectionCode.UNKNOWN_STATUS, 0) == ErrorLocation("OBX", 1, 11)


def test_the_order_status_is_no_part_of_the_content_digest() -> None:
    """A message stored before (OBR-25 not read) keeps its digest: its resend is known."""
    sent = message("ORC|RE|7001", obr("7001", "X"), CRP.format(value="53", status="F"))
    (observation,) = sent.observations
    assert observation.order_cancelled is not None
    before = replace(sent, observations=(replace(observation, order_cancelled=None),))
    assert content_digest(sent, "hmac") == content_digest(before, "hmac")


@pytest.mark.parametrize("control", ["DC", "OD", "DR"])
def test_a_result_under_a_discontinued_order_is_read_as_its_own_status_says(control: str) -> None:
    """Review 135: a discontinued order (work on it stopped) keeps what was reported before."""
    planned = plan(f"ORC|{control}|7002", obr("7002"), CRP.format(value="53", status="F"))
    assert not isinstance(planned, Rejected), planned
    assert len(planned) == 1
