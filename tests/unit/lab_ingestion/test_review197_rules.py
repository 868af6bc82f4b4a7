"""Review 197's pure rules: a JSON ``loinc`` that is no LOINC code, and a JSON correction or
withdrawal of a stored trial result under a code of no trial analyte, are refused, never left
out as another test's (``json_codes``); a correction without a report time is not applied
over a standing correction that has one, on every channel (``correction_resends``)."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.json_parser import parse_lab_results
from services.lab_ingestion.domain.analyte_codes import (
    LOINC_CODES,
    SAME_TEST_CODES,
    is_loinc_code,
)
from services.lab_ingestion.domain.correction_resends import (
    RESTATED_VERSION,
    UNTIMED_CORRECTION,
    issued_before,
    resent_correction,
    untimed_over_timed,
)
from services.lab_ingestion.domain.json_codes import (
    held_result,
    meant_code,
    misfiled_change,
    unreadable_loinc,
)
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.domain.reason_wording import for_fhir, for_json, speaks_hl7
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.domain.report_fields import ReportField
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_correction_resends import run, sent, values

AT = datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
RECEIVED = AT + timedelta(hours=3)
TRIAL_CODES = sorted({*LOINC_CODES, *SAME_TEST_CODES})
LOINC = "http://loinc.org"


def _check_digit(number: int) -> int:
    """LOINC's mod 10 check digit of ``number``."""
    return next(d for d in range(10) if is_loinc_code(f"{number}-{d}"))


# --- a JSON loinc that is no LOINC code -------------------------------------------------------


@given(st.sampled_from(TRIAL_CODES), st.integers(1, 3))
def test_a_trial_code_with_leading_zeros_names_the_code_to_send(code: str, zeros: int) -> None:
    padded = "0" * min(zeros, 8 - len(code)) + code  # the format takes 7 digits at most
    refused = unreadable_loinc(padded, 1)
    assert isinstance(refused, Rejected) and refused.code is RejectionCode.UNKNOWN_ANALYTE
    assert refused.reason.startswith(f"send the result with loinc {code} (")
    assert "results[1].loinc" in refused.reason and "leading zeros" in refused.reason
    assert padded not in refused.reason  # named by its canonical form alone (review 205)
    assert unreadable_loinc(code, 1) is None and meant_code(code) is None


@given(st.sampled_from(TRIAL_CODES), st.integers(1, 9))
def test_a_trial_number_with_a_wrong_check_digit_names_the_code_to_send(
    code: str, shift: int
) -> None:
    number, digit = code.split("-")
    wrong = f"{number}-{(int(digit) + shift) % 10}"
    refused = unreadable_loinc(wrong, 0)
    assert isinstance(refused, Rejected) and refused.code is RejectionCode.UNKNOWN_ANALYTE
    assert refused.reason.startswith(f"send the result with loinc {code} (")
    assert "results[0].loinc is no LOINC code (its check digit is wrong)" in refused.reason
    assert wrong not in refused.reason


@given(st.integers(1, 99_999), st.integers(0, 2), st.integers(1, 9))
def test_any_code_is_refused_exactly_when_no_loinc_code_or_a_padded_trial_code(
    number: int, zeros: int, shift: int
) -> None:
    """A valid LOINC code of another test is another test's (left out), padded or not; a
    wrong check digit is never read, and never quoted: the code may be the patient's number
    (review 205: ``4711234-0`` was stored and published in the reason), only a trial code is
    named."""
    right = _check_digit(number)
    valid = "0" * zeros + f"{number}-{right}"
    trial = f"{number}-{right}" in TRIAL_CODES
    assert (unreadable_loinc(valid, 2) is not None) is (trial and zeros > 0)
    wrong = "0" * zeros + f"{number}-{(right + shift) % 10}"
    refused = unreadable_loinc(wrong, 2)
    assert isinstance(refused, Rejected) and "results[2].loinc" in refused.reason
    assert not speaks_hl7(refused.reason)
    assert all(code in TRIAL_CODES for code in re.findall(r"\d+-\d", refused.reason))


# --- a JSON correction or withdrawal of a stored trial result under another code ------------

HEAD = EarlierResult(uuid.uuid4(), "S-1", "crp", AT, ("1988-5", 80.0))


@pytest.mark.parametrize("status", ["C", "X", "D"])
def test_a_change_of_a_held_result_under_another_code_is_refused(status: str) -> None:
    refused = misfiled_change(status, HEAD, "S-1", 1)
    assert isinstance(refused, Rejected)
    assert refused.code is RejectionCode.OTHER_ANALYTES_RESULT
    assert "with loinc 1988-5" in refused.reason and "results[1].loinc" in refused.reason
    assert "26464" not in refused.reason  # the code sent is never quoted (review 205)
    assert not speaks_hl7(refused.reason) and for_json(refused.reason) == refused.reason
    assert misfiled_change(status, None, "S-1", 1) is None


@pytest.mark.parametrize("status", ["C", "X", "D"])
def test_a_change_of_another_patients_result_under_another_code_is_refused(status: str) -> None:
    """Review 205: another patient's stored trial result under the result_id was read as
    nothing held, and the change left out (202), their result standing."""
    refused = misfiled_change(status, HEAD._replace(subject_id="S-2"), "S-1", 1)
    assert isinstance(refused, Rejected)
    assert refused.code is RejectionCode.OTHER_PATIENTS_RESULT
    assert "crp" not in refused.reason and "1988-5" not in refused.reason  # nothing of theirs
    assert not speaks_hl7(for_json(refused.reason))


@pytest.mark.parametrize("status", ["F", "P"])
def test_a_new_result_under_another_code_is_refused_too(status: str) -> None:
    """Task 211: a final or preliminary result under a result_id holding a trial result was
    left out (the known limit); refused as a change is (``test_task211_rules``)."""
    refused = misfiled_change(status, HEAD, "S-1", 1)
    assert isinstance(refused, Rejected) and refused.code is RejectionCode.OTHER_ANALYTES_RESULT
    refused = misfiled_change(status, HEAD._replace(subject_id="S-2"), "S-1", 1)
    assert isinstance(refused, Rejected) and refused.code is RejectionCode.OTHER_PATIENTS_RESULT


def test_the_chains_head_is_held_whoever_its_patient() -> None:
    key = ("LIS^HOSP", "R1")
    other = HEAD._replace(subject_id="S-2")
    assert held_result(key, "S-1", {key: HEAD}, {}) is HEAD
    assert held_result(key, "S-1", {key: other}, {}) is other  # refused, never None (205)
    assert held_result(key, "S-1", {}, {(*key, "S-1"): HEAD}) is HEAD
    assert held_result(key, "S-1", {}, {(*key, "S-2"): other}) is None
    assert held_result(("LIS^HOSP", "R2"), "S-1", {key: HEAD}, {}) is None


def _json(*observations: ObservationInput, channel: Channel = Channel.JSON) -> LabMessage:
    return LabMessage(channel, "LIS", "HOSP", "M-1", "MRN1", observations)


def _item(key: str, code: str, status: str = "F", value: str = "150") -> ObservationInput:
    unit = ("10*9/L",) if value else ()
    return ObservationInput(key, (Coding(code, LOINC),), value, unit, status=status,
                            collected_at=AT)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_item("R1", "1988-6", "D", ""), RejectionCode.OTHER_ANALYTES_RESULT),
        (_item("R1", "26464-8", "X", ""), RejectionCode.OTHER_ANALYTES_RESULT),
        (_item("R1", "751-9", "C", "0.4"), RejectionCode.OTHER_ANALYTES_RESULT),
        (_item("R9", "1988-6", "F", "80"), RejectionCode.UNKNOWN_ANALYTE),
        (_item("R9", "01988-5", "F", "80"), RejectionCode.UNKNOWN_ANALYTE),
    ],
)
def test_planning_refuses_what_it_left_out_beside_a_trial_result(
    change: ObservationInput, code: RejectionCode
) -> None:
    """Review 197's messages, beside a new platelet count: refused at the item, whole."""
    held = {"R1": HEAD}.get
    planned = plan_results(
        _json(_item("N1", "777-3"), change), UnitParameters(), RECEIVED, held, subject_id="S-1"
    )
    assert isinstance(planned, Rejected) and planned.code is code, planned
    assert planned.observation == 1
    # an HL7 result keyed by its own test is no JSON item: left out as before
    hl7 = plan_results(
        _json(_item("N1", "777-3"), change, channel=Channel.MLLP), UnitParameters(), RECEIVED,
        held, subject_id="S-1",
    )  # fmt: skip
    assert not isinstance(hl7, Rejected) and len(hl7) == 1


def test_a_valid_code_of_another_test_is_still_left_out() -> None:
    """Under a result_id holding nothing (R2): another test's (R1, holding a CRP, refuses
    it: task 211)."""
    for change in (_item("R2", "26464-8", "F", "5"), _item("R2", "26464-8", "X", "")):
        planned = plan_results(
            _json(_item("N1", "777-3"), change), UnitParameters(), RECEIVED, {"R1": HEAD}.get,
            subject_id="S-1",
        )  # fmt: skip
        assert not isinstance(planned, Rejected) and len(planned) == 1, planned


# --- a correction without a report time over a timed standing correction -------------------

T = datetime(2026, 11, 20, 9, tzinfo=UTC)
OLD, STANDING, NEW = ("old",), ("standing",), ("new",)


def _head(reported: datetime | None, status: str, field: ReportField | None) -> EarlierResult:
    return EarlierResult(
        uuid.uuid4(), "S-1", "crp", T, STANDING, frozenset({OLD}), reported,
        frozenset(), field, status,
    )  # fmt: skip


@given(
    st.booleans(),
    st.sampled_from(["F", "C"]),
    st.sampled_from([*ReportField, None]),
    st.sampled_from([OLD, STANDING, NEW]),
)
def test_an_untimed_correction_is_refused_only_over_a_timed_standing_correction(
    timed: bool, status: str, field: ReportField | None, content: tuple[str]
) -> None:
    """The shared rule, as HL7's and JSON's ``resent_correction`` and FHIR's
    ``issued_before`` apply it to a correction without a report time."""
    head = _head(T if timed else None, status, field)
    rule = untimed_over_timed(head, STANDING, content, None)
    refused = timed and status == "C" and content != STANDING
    assert (rule is not None) is refused
    for verdict in (resent_correction(head, STANDING, content, None),
                    issued_before(head, content, None)):  # fmt: skip
        if refused:
            assert verdict == rule
        elif content in (NEW, STANDING):
            assert verdict is False  # a new value, or what stands, applied as before
    if rule is not None:
        assert rule.code is RejectionCode.AMBIGUOUS_VERSION
        expected = RESTATED_VERSION if content == OLD else UNTIMED_CORRECTION
        named = "OBX-19" if field is ReportField.OBX_19 else "OBR-22"
        assert rule.reason == expected.replace("(OBR-22)", f"({named})")
    # a correction with a report time is never asked
    assert untimed_over_timed(head, STANDING, content, T) is None


def test_the_refusal_asks_for_the_report_time_in_each_channels_words() -> None:
    assert UNTIMED_CORRECTION.startswith("send the correction again with a report time (OBR-22)")
    json, fhir = for_json(UNTIMED_CORRECTION), for_fhir(UNTIMED_CORRECTION)
    assert "(reported_at)" in json and not speaks_hl7(json)
    assert "(Observation.issued)" in fhir and not speaks_hl7(fhir)


@pytest.mark.parametrize("channel", [Channel.MLLP, Channel.JSON])
async def test_through_the_ingestor(channel: Channel) -> None:
    """F 50, C 52 reported 20 minutes later, then C 51 without a report time: refused, 52
    stands; over an untimed chain, or correcting the final, applied as before."""
    field = ReportField.OBR_22 if channel is Channel.MLLP else ReportField.JSON_REPORTED_AT
    chain = [("F", "50", 0), ("C", "52", 20), ("C", "51", None)]
    answers, db = await run([sent(str(n), o, channel=channel, field=field)
                             for n, o in enumerate(chain)], one_batch=False)  # fmt: skip
    assert [a[2] for a in answers] == [None, None, RejectionCode.AMBIGUOUS_VERSION]
    assert values(db) == [52.0]
    for untimed in ([("F", "50", None), ("C", "52", None), ("C", "51", None)],
                    [("F", "50", 0), ("C", "51", None)]):  # fmt: skip
        answers, db = await run([sent(str(n), o, channel=channel, field=field)
                                 for n, o in enumerate(untimed)], one_batch=False)  # fmt: skip
        assert all(a[0] for a in answers) and values(db) == [51.0], answers


# --- review 205: a report time sent but dropped is no missing one ---------------------------


@given(
    st.sampled_from([*ReportField, None]),
    st.sampled_from([OLD, STANDING, NEW]),
)
def test_a_correction_whose_report_time_was_dropped_is_judged_as_before(
    field: ReportField | None, content: tuple[str]
) -> None:
    """A report time the lab wrote but the service dropped (unreadable, a date alone, a
    clock change's, before 2000, in the future) is no missing one: the untimed rule is not
    asked, a new value is applied and what a replaced version said refused, as before fixer
    198 (which asked the lab for a time it had sent, a resend refused the same way)."""
    head = _head(T, "C", field)
    assert untimed_over_timed(head, STANDING, content, None, written=True) is None
    verdict = resent_correction(head, STANDING, content, None, written=True)
    fhir = issued_before(head, content, None, written=True)
    if content == OLD:
        assert isinstance(verdict, Rejected) and RESTATED_VERSION[:40] in verdict.reason
    else:
        assert verdict is False
    assert fhir is False


HL7 = (
    "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|M-1|P|2.5.1\r"
    "PID|1||MRN1^^^HOSP^MR\r"
    "OBR|1|PLC1|ORD1|LAB^Lab panel|||20261120081500+0100{obr22}\r"
    "OBX|1|NM|1988-5^CRP^LN||51|mg/L|||||C|||20261120081500+0100{obx19}\r"
)


@pytest.mark.parametrize(
    ("obr22", "obx19", "written", "read"),
    [
        ("", "", False, False),
        ('""', '""', False, False),  # HL7's explicit null: no value
        ("20261120110000+0100", "", True, True),
        ("20261120", "", True, False),  # a date alone: dropped
        ("2026-11-20 11h", "", True, False),  # unreadable: dropped
        ("", "20261120100000+0100", True, True),
        ("", "20261120", True, False),
    ],
)
def test_hl7_says_whether_a_report_time_was_written(
    obr22: str, obx19: str, written: bool, read: bool
) -> None:
    text = HL7.format(
        obr22="|" * 15 + obr22 if obr22 else "", obx19="|||||" + obx19 if obx19 else ""
    )
    (observation,) = parse_oru(text)[0].observations
    assert observation.report_time_written is written
    assert (observation.reported_at is not None) is read


@pytest.mark.parametrize(
    ("reported_at", "written"),
    [(None, False), ("2026-11-20T11:00:00+01:00", True), ("1999-11-20T11:00:00+01:00", True)],
)
def test_json_says_whether_reported_at_was_written(reported_at: str | None, written: bool) -> None:
    item: dict[str, object] = {"result_id": "R1", "loinc": "1988-5", "value": "51",
                               "unit": "mg/L", "status": "corrected",
                               "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    if reported_at is not None:
        item["reported_at"] = reported_at
    body = {"message_id": "M-1", "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": "MRN1"}, "results": [item]}  # fmt: skip
    (observation,) = parse_lab_results(body).observations
    assert observation.report_time_written is written


@pytest.mark.parametrize(
    ("issued", "written"), [(None, False), ("2026-11-20T11:00:00+01:00", True)]
)
def test_fhir_says_whether_issued_was_written(issued: str | None, written: bool) -> None:
    resource = {
        "resourceType": "Observation", "status": "corrected",
        "identifier": [{"system": "urn:lab", "value": "OBS-1"}],
        "code": {"coding": [{"system": LOINC, "code": "1988-5"}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN1"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 51, "unit": "mg/L", "system": "http://unitsofmeasure.org",
                          "code": "mg/L"},
    }  # fmt: skip
    if issued is not None:
        resource["issued"] = issued
    (observation,) = parse_observation(resource, "LIS", "HOSP").observations
    assert observation.report_time_written is written


@pytest.mark.parametrize("channel", [Channel.MLLP, Channel.JSON])
async def test_a_dropped_report_time_through_the_ingestor(channel: Channel) -> None:
    """F 50, C 52 reported 20 minutes later, then C 51 whose report time was written but
    dropped: applied, 51 stands (review 205: refused as untimed); one written by no field is
    still refused."""
    field = ReportField.OBR_22 if channel is Channel.MLLP else ReportField.JSON_REPORTED_AT
    versions = [("F", "50", 0), ("C", "52", 20), ("C", "51", None)]
    chain = [sent(str(n), o, channel=channel, field=field) for n, o in enumerate(versions)]
    (dropped,) = chain[2].message.observations
    written = (replace(dropped, report_time_written=True),)
    chain[2] = replace(chain[2], message=replace(chain[2].message, observations=written))
    answers, db = await run(chain, one_batch=False)
    assert [a[2] for a in answers] == [None, None, None], answers
    assert values(db) == [51.0]
