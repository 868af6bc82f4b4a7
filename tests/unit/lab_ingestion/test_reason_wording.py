"""A JSON or FHIR sender's rejection reasons name its format's fields (``reason_wording``):
the reasons the rules write for HL7 (``MSH-10``, ``OBX-4``, ``OBX-11 C``, ``PID-3``, the
order and test) are said in JSON's words (``message_id``, ``result_id``) or FHIR's elements
(``Observation.identifier``, ``Observation.status``), a FHIR reason names the element that
holds what it speaks of (``Observation.effective[x]``), and every reason in the code that
names an HL7 field is either said so or one that channel's message cannot get."""

from __future__ import annotations

import io
import pathlib
import tokenize
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain import chain_refusals, correction_resends, withdrawn_chains
from services.lab_ingestion.domain.analytes import resolve_unit
from services.lab_ingestion.domain.measured_values import parse_value
from services.lab_ingestion.domain.model import Rejected, RejectionCode
from services.lab_ingestion.domain.reason_wording import (
    fhir_element,
    for_fhir,
    for_json,
    speaks_hl7,
    worded,
)
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.domain.report_fields import ReportField
from services.lab_ingestion.service_layer import recording, senders
from shared.contracts.events.lab import Analyte, Channel

ROOT = pathlib.Path(__file__).resolve().parents[3] / "services" / "lab_ingestion"
AT = datetime(2026, 11, 20, 7, tzinfo=UTC)
HEAD = EarlierResult(uuid.uuid4(), "S-1", "crp", AT)

# reasons no message of the channel can get, and why: the HL7 field they name has no
# counterpart in its format
HL7_ONLY = {
    "(OBX-2)": "a value type: a JSON or FHIR value is read as a number, of no declared type",
    "its OBX-3 repeats": "a JSON result has one LOINC code, a FHIR coding list is read whole",
    "as the sender writes it in OBX-3": "cachexia local-code add: an operator's command",
    "its message id (MSH-10) held a personal value": "replay of an HL7 kept copy",
    "result status 'U'": "HL7's final-without-values: no JSON or FHIR status maps to it",
    "is not read: OBX-3 is read as": "planning gives it to HL7 only; FHIR's names loinc.org",
    "as two components, no unit the service": "an HL7 OBX-6 split by a plain caret (unit_split)",
    "as two components in a repetition of OBX-6": "an HL7 OBX-6 repetition split by a caret",
    "contradicts OBX-11": "an HL7 order's status (OBR-25): JSON and FHIR have none read",
    "send OBX-11 X or D per result": "an HL7 order cancelled whole (OBR-25, ORC-1): likewise",
    "OBR-25 {status}": "what says an HL7 order is cancelled, in the reason above",
    "ORC-1 {control}": "likewise",
    " in OBX-3": "where an HL7 result's name is read; FHIR's and JSON's are said by channel",
    "but PID-4 (the alternate patient id": "only HL7 messages have a PID-4 (alternate_ids)",
}
JSON_ONLY_HL7 = {
    **HL7_ONLY,
    "(PID-3 MR, or the number of the": "several patient numbers: HL7 PID-3, FHIR identifiers",
    "the medical record number (PID-3 MR) or": "a JSON message names one number, not blank",
}
ONLY_HL7 = {Channel.JSON: JSON_ONLY_HL7, Channel.FHIR: HL7_ONLY}


def _reasons_a_message_can_get() -> list[str]:
    another = EarlierResult(HEAD.result_id, "S-2", "crp", AT)
    other_test = EarlierResult(HEAD.result_id, "S-1", "alt", AT)
    reasons = [
        chain_refusals.changed_final(within_message=True).reason,
        chain_refusals.changed_final(within_message=False).reason,
        withdrawn_chains.withdrawn_result().reason,
        correction_resends.RESTATED_VERSION,
        correction_resends.REPORTED_BEFORE,
        *_resends_timed_by_obx19(),
        recording.REUSED_ID_REASON,
        senders.NO_PATIENT_REASON,
    ]
    for head in (another, other_test):
        refused = chain_refusals.another_chain(head, "S-1", "crp")
        assert refused is not None
        reasons.append(refused.reason)
    later = datetime(2026, 11, 21, tzinfo=UTC)
    sample = chain_refusals.nothing_to_apply(HEAD, "F", later, frozenset())
    assert sample is not None
    reasons.append(sample.reason)
    for status in ("C", "X", "D"):
        for gone in (frozenset(), frozenset({None})):
            reasons.append(withdrawn_chains.nothing_to_change(status, gone).reason)
    return reasons


def _resends_timed_by_obx19() -> list[str]:
    """The refusals of corrections naming OBX-19, the field their report times were read
    from (a JSON or FHIR message under a chain an HL7 message timed so gets them)."""
    standing, older = ("crp", 52.0), ("crp", 50.0)
    head = HEAD._replace(
        content=standing, superseded=frozenset({older}), reported_at=AT,
        report_field=ReportField.OBX_19,
    )  # fmt: skip
    reasons = []
    for content, field in ((older, ReportField.OBX_19), (("crp", 9.0), ReportField.OBX_19),
                           (older, ReportField.OBR_22)):  # fmt: skip
        refused = correction_resends.resent_correction(
            head, standing, content, AT - timedelta(hours=1), field
        )
        assert isinstance(refused, Rejected) and "(OBX-19)" in refused.reason, refused
        reasons.append(refused.reason)
    return reasons


REASONS = _reasons_a_message_can_get()


@pytest.mark.parametrize("channel", [Channel.JSON, Channel.FHIR])
@pytest.mark.parametrize("reason", REASONS)
def test_every_reason_a_json_or_fhir_message_can_get_names_its_fields(
    reason: str, channel: Channel
) -> None:
    said = worded(reason, channel)
    assert not speaks_hl7(said), said
    assert worded(said, channel) == said  # a transaction's reason is worded twice


@pytest.mark.parametrize("channel", [Channel.MLLP, Channel.HL7_HTTP])
@pytest.mark.parametrize("reason", REASONS)
def test_an_hl7_senders_reason_is_left_as_the_rules_write_it(reason: str, channel: Channel) -> None:
    assert worded(reason, channel) == reason


def test_the_reused_id_and_changed_final_reasons_name_message_id_and_result_id() -> None:
    reused = for_json(recording.REUSED_ID_REASON)
    assert reused.startswith("this message_id was used before"), reused
    changed = for_json(chain_refusals.changed_final(within_message=False).reason)
    assert changed.startswith("send a changed final result as a correction (status corrected)")
    assert "this result_id already holds" in changed and "a result_id of its own" in changed


def test_fhir_names_the_identifier_and_the_status_of_a_changed_final_result() -> None:
    changed = for_fhir(chain_refusals.changed_final(within_message=False).reason)
    assert changed.startswith(
        "send a changed final result as a correction (Observation.status corrected or "
        "amended): this identifier (Observation.identifier) already holds"
    ), changed
    assert changed.endswith("(a new result needs an identifier of its own)"), changed
    assert fhir_element(changed) is None  # the status's fault, or the identifier's


def test_fhir_tells_a_reused_version_by_the_observation_and_its_issued_time() -> None:
    reused = for_fhir(recording.REUSED_ID_REASON)
    assert reused.startswith("this version of the Observation (its identifier, status, value")
    assert fhir_element(reused) == "Observation.issued"


@pytest.mark.parametrize(
    ("rejected", "element"),
    [
        (chain_refusals.another_chain(EarlierResult(HEAD.result_id, "S-2", "crp", AT), "S-1",
                                      "crp"), "Observation.identifier"),
        (withdrawn_chains.nothing_to_change("C", frozenset()), "Observation.identifier"),
        (Rejected(RejectionCode.MISSING_PATIENT, senders.NO_PATIENT_REASON), "Observation.subject"),
        (resolve_unit(Analyte.CRP, ("mm[Hg]",)), "Observation.valueQuantity"),
        # no unit: a valueString or valueInteger has none either (review 121)
        (resolve_unit(Analyte.CRP, ()), "Observation.value[x]"),
        (parse_value(Analyte.CRP, ""), "Observation.value[x]"),
        (resolve_unit(Analyte.CRP, ("mg/L", "mg/dL")), "Observation.valueQuantity"),
        (Rejected(RejectionCode.MISSING_COLLECTION_TIME, "crp result has no collection time"),
         "Observation.effective[x]"),
    ],
)  # fmt: skip
def test_a_fhir_reason_names_the_one_element_at_fault(rejected: object, element: str) -> None:
    assert isinstance(rejected, Rejected), rejected
    said = for_fhir(rejected.reason)
    assert fhir_element(said) == element, said
    assert for_fhir(said) == said


def test_a_reason_naming_nothing_of_hl7_is_left_as_it_is() -> None:
    reason = "crp value '12,5' is not a number"
    assert for_json(reason) == reason and for_fhir(reason) == reason
    assert fhir_element(reason) is None


def test_a_reason_the_fhir_adapter_gives_is_left_as_it_is() -> None:
    """An input the FHIR adapter refused is kept under its issues' own locations: FHIR's
    words already (a rejection of it is worded as any FHIR rejection is)."""
    adapters = [*(ROOT / "adapters").glob("fhir_*.py"), *(ROOT / "entrypoints").glob("fhir_*.py")]
    literals = [literal for path in sorted(adapters) for literal in _literals(path)]
    assert len(literals) > 100
    assert [literal for literal in literals if for_fhir(literal) != literal] == []


def _literals(path: pathlib.Path) -> list[str]:
    """The string literals of ``path``, adjacent ones joined (one reason over lines)."""
    joined: list[str] = []
    run: list[str] = []
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type == tokenize.STRING:
            text = token.string.lstrip("rbfuRBFU")
            if not text.startswith(('"""', "'''")):
                run.append(text[1:-1])  # its text (an f-string's placeholders as written)
            continue
        if token.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT) and run:
            continue
        if run:
            joined.append("".join(run))
            run = []
    return joined


def _reason_literals() -> list[tuple[str, str]]:
    return [
        (path.name, literal)
        for layer in ("domain", "service_layer")
        for path in sorted((ROOT / layer).glob("*.py"))
        if path.name != "reason_wording.py"  # the phrases themselves
        for literal in _literals(path)
        if literal not in set(ReportField)  # a report time's field as stored, never a reason
    ]


LITERALS = _reason_literals()


@pytest.mark.parametrize("channel", [Channel.JSON, Channel.FHIR])
def test_every_reason_naming_an_hl7_field_is_said_for_the_channel_or_is_hl7_only(
    channel: Channel,
) -> None:
    """A new reason that names an HL7 field fails here until ``reason_wording`` says it in
    the channel's words or ``ONLY_HL7`` says why no message of the channel gets it."""
    unsaid = [
        f"{name}: {literal[:100]}"
        for name, literal in LITERALS
        if speaks_hl7(literal) and speaks_hl7(worded(literal, channel))
        and not any(known in literal for known in ONLY_HL7[channel])
    ]  # fmt: skip
    assert unsaid == []


@given(
    st.lists(st.sampled_from([literal for _, literal in LITERALS]), min_size=1, max_size=3),
    st.sampled_from([Channel.JSON, Channel.FHIR]),
)
def test_wording_is_idempotent(parts: list[str], channel: Channel) -> None:
    """A rejected transaction's reason is its entry's, worded, worded again as its own."""
    reason = "transaction rejected: " + "; ".join(parts)
    once = worded(reason, channel)
    assert worded(once, channel) == once
