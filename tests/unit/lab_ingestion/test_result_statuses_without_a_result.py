"""HL7 table 0085 statuses that say "no result here" do not lose the results beside them.

Found by review 64:
``plan_results`` rejects the whole message when one trial observation's OBX-11 is not F, C,
P, X, D or W. Table 0085 also defines statuses that carry no result at all: ``I`` (specimen
in lab, results pending), ``O`` (order detail only, no result) and ``N`` (not asked), and
ones whose result is not final yet: ``R`` (entered, not verified), ``S`` (partial). A
laboratory sends them routinely in a panel whose other results are final (a CBC with the
differential still pending, a chemistry panel whose CRP is not done yet). The final results
beside them (a grade-4 neutrophil count, a platelet count under the hold threshold) are then
refused with the message (AE): nothing is stored or published, so no hold is triggered and
no toxicity is graded, although nothing in them is unusable. A status that says there is no
result should leave that observation out (as another test's is), not lose the others.

What is not final (R, S) is stored as preliminary (P): never published, heading no chain.
U (made final without the values sent again) stays refused, for what it is; a code table 0085
does not define, or none, stays "unknown".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.lab_ingestion.adapters.fhir_bundle import TRANSACTION, parse_bundle
from services.lab_ingestion.domain.chain_checks import check_earlier_results
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    NormalisedResult,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.domain.result_status import status_of
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestTransaction
from shared.contracts.events.lab import Analyte, Channel
from tests.unit.lab_ingestion.route_fakes import MRN, bundle, observation
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

COLLECTED = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

NEUTROPHILS = ObservationInput(
    "ORD1|751-8|", (Coding("751-8", "LN"),), "0.3", ("10*9/L",), status="F",
    collected_at=COLLECTED,
)  # fmt: skip


def _no_result(status: str) -> ObservationInput:
    # the CRP of the same order, not done (or not verified) yet: I, O and N carry no value;
    # R (entered, not verified) and S (partial) carry one that is not final
    value, unit = ("12", ("mg/L",)) if status in {"R", "S"} else ("", ())
    return ObservationInput(
        "ORD1|1988-5|", (Coding("1988-5", "LN"),), value, unit, status=status,
        collected_at=COLLECTED,
    )  # fmt: skip


@pytest.mark.parametrize("status", ["I", "O", "N", "R", "S"])
def test_a_pending_result_does_not_lose_the_final_neutrophil_count_beside_it(status: str) -> None:
    observations = (NEUTROPHILS, _no_result(status))
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "1", "MRN1", observations)
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert not isinstance(planned, Rejected), (
        f"a final grade-4 neutrophil count was refused because the CRP beside it is {status!r} "
        f"(no final result yet): {planned}"
    )
    kept = [(n.analyte, n.value) for _, n in planned if isinstance(n, NormalisedResult)]
    assert (Analyte.NEUTROPHILS, 0.3) in kept
    # and what is not final is never planned as a result the trial acts on (F or C): the
    # platform reads (and stores) R and S as P; the observation itself stays as sent
    assert all(status_of(o) in {"F", "C", "P"} for o, n in planned if n is not None)
    crp = [
        (status_of(o), n.value) for o, n in planned if n is not None and n.analyte is Analyte.CRP
    ]
    assert crp == ([("P", 12.0)] if status in {"R", "S"} else [])


@pytest.mark.parametrize("status", ["I", "O", "N"])
def test_a_result_status_without_a_result_is_left_out_unchecked(status: str) -> None:
    """Nothing of it is checked, as of another test's observation: its (missing) value,
    unit and collection time reject nothing."""
    pending = ObservationInput("ORD1|1988-5|", (Coding("1988-5", "LN"),), "", (), status=status)
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "1", "MRN1", (NEUTROPHILS, pending))
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert not isinstance(planned, Rejected)
    assert [o for o, _ in planned] == [NEUTROPHILS]


def test_a_message_of_pending_results_alone_holds_no_trial_result() -> None:
    """As a message of other tests' results alone (nothing of it to store)."""
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "1", "MRN1", (_no_result("I"),))
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, Rejected) and planned.code is RejectionCode.UNKNOWN_ANALYTE


def test_a_status_made_final_without_its_values_is_refused_for_what_it_is() -> None:
    """U: "results status change to final without retransmitting results already sent as
    preliminary". The platform applies only values it receives: the lab sends them as F."""
    made_final = ObservationInput(
        "ORD1|1988-5|", (Coding("1988-5", "LN"),), "", (), status="U", collected_at=COLLECTED
    )
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "1", "MRN1", (NEUTROPHILS, made_final))
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, Rejected) and planned.code is RejectionCode.UNKNOWN_STATUS
    assert planned.observation == 1
    assert "'U'" in planned.reason and "(OBX-11 F)" in planned.reason
    assert "unknown" not in planned.reason
    assert planned.reason.startswith("send the result again as final")


@pytest.mark.parametrize(("status", "shown"), [("Q", "'Q'"), ("", "empty"), ("FF", "2 char")])
def test_a_status_table_0085_does_not_define_stays_unknown(status: str, shown: str) -> None:
    unknown = ObservationInput(
        "ORD1|1988-5|", (Coding("1988-5", "LN"),), "12", ("mg/L",), status=status,
        collected_at=COLLECTED,
    )  # fmt: skip
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "1", "MRN1", (NEUTROPHILS, unknown))
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert isinstance(planned, Rejected) and planned.code is RejectionCode.UNKNOWN_STATUS
    assert "unknown" in planned.reason and shown in planned.reason


@pytest.mark.parametrize("status", ["R", "S"])
async def test_a_result_not_verified_or_partial_is_stored_as_preliminary(status: str) -> None:
    """Stored with status P (what the store holds: F, C or P), never published, heading no
    chain: the final result later under its key is a new one, not a change of it."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    (outcome,) = await ingest([_ingest("1", (NEUTROPHILS, _no_result(status)))])
    assert outcome.accepted and outcome.results == 2
    assert sorted(r.status for r in db.results) == ["F", "P"]
    assert [e.payload["analyte"] for t, e in db.events if t == "lab.results.v1"] == [
        Analyte.NEUTROPHILS.value
    ]
    final_crp = ObservationInput(
        "ORD1|1988-5|", (Coding("1988-5", "LN"),), "14", ("mg/L",), collected_at=COLLECTED
    )
    (later,) = await ingest([_ingest("2", (final_crp,))])
    assert later.accepted and later.results == 1
    assert db.results[-1].status == "F" and db.results[-1].supersedes_result_id is None


def _ingest(control_id: str, observations: tuple[ObservationInput, ...]) -> IngestLabMessage:
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", control_id, "MRN1", observations)
    return IngestLabMessage(message, lambda: "", RECEIVED)


def test_a_registered_fhir_observation_in_a_transaction_is_ignored_as_holding_no_result() -> None:
    """FHIR's ``registered`` ("no result yet available") is HL7's I: in a Bundle, its entry
    is ignored as another test's Observation is; the final result beside it goes through."""
    registered = observation(status="registered", valueQuantity=None)
    parsed = parse_bundle(bundle(TRANSACTION, observation(), registered), "LIS", "HOSP")
    final, pending = parsed.entries
    assert final.message is not None and pending.ignored


# --- X on a first report ---------------------------------------------------------------------
# HL7 table 0085 ``X``: "results cannot be obtained for this observation". A laboratory sends
# it in the first report of a panel when one test could not be measured (clumped platelets,
# a haemolysed or clotted sample) and the others were. ``check_earlier_results`` takes every
# X as the cancellation of a stored result, and with none stored rejects the whole message
# (``unknown-corrected-result``, "send the final result first": there is none to send), so
# the final neutrophil count measured in the same sample is lost with it.

PLATELETS_NOT_OBTAINED = ObservationInput(
    "ORD1|777-3|", (Coding("777-3", "LN"),), "", (), status="X", collected_at=COLLECTED
)


def test_platelets_that_cannot_be_obtained_do_not_lose_the_neutrophils_beside_them() -> None:
    message = LabMessage(
        Channel.MLLP, "LIS", "HOSP", "1", "MRN1", (NEUTROPHILS, PLATELETS_NOT_OBTAINED)
    )
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert not isinstance(planned, Rejected), planned
    checked = check_earlier_results(message, planned, "S-1", {})  # nothing stored yet
    assert not isinstance(checked, Rejected), (
        "a first CBC report with platelets 'cannot be obtained' (X) was rejected whole, and "
        f"its grade-4 neutrophil count (0.3 x10^9/L, a dose hold) with it: {checked}"
    )
    kept = [n for _, n in checked if isinstance(n, NormalisedResult)]
    assert [(n.analyte, n.value) for n in kept] == [(Analyte.NEUTROPHILS, 0.3)]


@pytest.mark.parametrize("status", ["D", "W"])
def test_a_deletion_still_needs_the_result_it_deletes(status: str) -> None:
    deleted = ObservationInput(
        "ORD1|777-3|", (Coding("777-3", "LN"),), "", (), status=status, collected_at=COLLECTED
    )
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "1", "MRN1", (NEUTROPHILS, deleted))
    planned = plan_results(message, DEFAULT_UNIT_PARAMETERS, RECEIVED)
    assert not isinstance(planned, Rejected)
    checked = check_earlier_results(message, planned, "S-1", {})
    assert isinstance(checked, Rejected)
    assert checked.code is RejectionCode.UNKNOWN_CORRECTED_RESULT and checked.observation == 1


def _cbc(control_id: str, platelets: ObservationInput = PLATELETS_NOT_OBTAINED) -> IngestLabMessage:
    return _ingest(control_id, (NEUTROPHILS, platelets))


async def test_a_first_report_of_platelets_not_obtained_stores_the_neutrophils_alone() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    (outcome,) = await ingest([_cbc("1")])
    assert outcome.accepted and not outcome.duplicate
    assert (outcome.results, outcome.cancelled, outcome.not_obtained) == (1, 0, 1)
    assert [r.result.analyte for r in db.results] == [Analyte.NEUTROPHILS]
    assert not db.cancelled
    assert [t for t, _ in db.events] == ["lab.results.v1"]  # the neutrophils' alone
    # sent again (its answer lost), under its id or another: a duplicate, nothing twice
    for control_id in ("1", "2"):
        (resent,) = await ingest([_cbc(control_id)])
        assert resent.accepted and resent.duplicate
    assert resent.not_obtained == 0  # the neutrophils said again: a resend counts nothing
    assert len(db.results) == 1 and len(db.events) == 1
    # the platelets measured later, on a new sample under the same order: a new result
    platelets = ObservationInput(
        "ORD1|777-3|", (Coding("777-3", "LN"),), "45", ("10*9/L",), collected_at=COLLECTED
    )
    (later,) = await ingest([_ingest("3", (platelets,))])
    assert later.accepted and (later.results, later.cancelled) == (1, 0)
    assert db.standing("LIS^HOSP", "ORD1|777-3|") == db.results[-1]


async def test_a_first_report_of_a_result_not_obtained_alone_is_accepted_with_nothing_stored() -> (
    None
):
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    (outcome,) = await ingest([_ingest("1", (PLATELETS_NOT_OBTAINED,))])
    assert outcome.accepted and not outcome.duplicate
    assert (outcome.results, outcome.cancelled, outcome.not_obtained) == (0, 0, 1)
    assert db.results == [] and db.events == [] and len(db.messages) == 1
    (resent,) = await ingest([_ingest("1", (PLATELETS_NOT_OBTAINED,))])
    assert resent.accepted and resent.duplicate


async def test_results_not_obtained_still_withdraw_the_patients_stored_result() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    platelets = ObservationInput(
        "ORD1|777-3|", (Coding("777-3", "LN"),), "45", ("10*9/L",), collected_at=COLLECTED
    )
    await ingest([_ingest("1", (platelets,))])
    (cancelled,) = await ingest([_ingest("2", (PLATELETS_NOT_OBTAINED,))])
    assert cancelled.accepted and (cancelled.cancelled, cancelled.not_obtained) == (1, 0)
    assert db.standing("LIS^HOSP", "ORD1|777-3|") is None
    # its cancellation sent again under another id: a duplicate of a withdrawn chain
    (again,) = await ingest([_ingest("3", (PLATELETS_NOT_OBTAINED,))])
    assert again.accepted and again.duplicate


@pytest.mark.parametrize("status", ["F", "P"])
async def test_results_not_obtained_are_never_applied_to_another_patients_result(
    status: str,
) -> None:
    """The key holds another patient's result only (final, or preliminary): refused as
    before, never taken as a first report (nor applied across patients)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1", "h(MRN2)": "S-2"})
    ingest = ingestor(db)
    platelets = ObservationInput(
        "ORD1|777-3|", (Coding("777-3", "LN"),), "45", ("10*9/L",), status=status,
        collected_at=COLLECTED,
    )  # fmt: skip
    other = LabMessage(Channel.MLLP, "LIS", "HOSP", "1", "MRN2", (platelets,))
    await ingest([IngestLabMessage(other, lambda: "", RECEIVED)])
    (outcome,) = await ingest([_cbc("2")])
    assert not outcome.accepted
    assert outcome.code in {
        RejectionCode.OTHER_PATIENTS_RESULT,
        RejectionCode.UNKNOWN_CORRECTED_RESULT,
    }
    assert len(db.results) == 1 and not db.cancelled


def _cancelled_platelets() -> dict[str, Any]:
    return observation(
        status="cancelled", identifier=[{"system": "urn:lis", "value": "R-2"}],
        valueQuantity=None,
        code={"coding": [{"system": "http://loinc.org", "code": "778-1"}]},
    )  # fmt: skip


async def test_a_fhir_cancelled_observation_never_stored_alone_is_left_out() -> None:
    """Over FHIR a `cancelled` without a value that finds nothing, sent alone, is a test
    cancelled before it was resulted (review 157): accepted with nothing stored, as HL7's X
    there is. (Review 67 refused it: it may be meant for a result sent under another
    token's name; where the patient's result under its identifier stands under another
    sender's name it still is: ``fhir_cancellations``.)"""
    db = FakeDatabase(enrolled={f"h({MRN})": "S-1"})
    parsed = parse_bundle(
        bundle(TRANSACTION, _cancelled_platelets()), "LIS", "HOSP", lambda i: f"h({i})"
    )
    (outcome,) = await ingestor(db)([IngestTransaction(parsed.messages, lambda: "", RECEIVED)])
    assert outcome.accepted and outcome.not_obtained == 1, (outcome.code, outcome.reason)
    assert db.results == []


@pytest.mark.parametrize("code", ["778-1", "777-3"])
async def test_a_fhir_cancelled_observation_never_stored_beside_a_result_is_left_out(
    code: str,
) -> None:
    """Beside a result of its transaction too (reviews 72, 73 refused it; review 157): the
    result is stored, a manual count's (778-1) cancellation left out as a protocol code's."""
    db = FakeDatabase(enrolled={f"h({MRN})": "S-1"})
    cancelled = _cancelled_platelets()
    cancelled["code"] = {"coding": [{"system": "http://loinc.org", "code": code}]}
    parsed = parse_bundle(
        bundle(TRANSACTION, observation(), cancelled), "LIS", "HOSP", lambda i: f"h({i})"
    )
    (outcome,) = await ingestor(db)([IngestTransaction(parsed.messages, lambda: "", RECEIVED)])
    assert outcome.accepted, (outcome.code, outcome.reason)
    assert len(db.results) == 1
