"""A JSON sender's rejection reasons name JSON's fields (``json_wording``): the reasons the
rules write for HL7 (``MSH-10``, ``OBX-4``, ``OBX-11 C``, the order and test) are said in
the format's words, and every reason in the code that names an HL7 field is either said so
or one a JSON message cannot get."""

from __future__ import annotations

import io
import pathlib
import tokenize
import uuid
from datetime import UTC, datetime

import pytest

from services.lab_ingestion.domain import chain_refusals, withdrawn_chains
from services.lab_ingestion.domain.json_wording import for_json, speaks_hl7
from services.lab_ingestion.domain.records import EarlierResult
from services.lab_ingestion.service_layer import recording, senders

ROOT = pathlib.Path(__file__).resolve().parents[3] / "services" / "lab_ingestion"
AT = datetime(2026, 11, 20, 7, tzinfo=UTC)
HEAD = EarlierResult(uuid.uuid4(), "S-1", "crp", AT)

# reasons no JSON message can get, and why: the HL7 field they name has no JSON counterpart
HL7_ONLY = {
    "(OBX-2)": "a value type: a JSON value is text, read as a number",
    "its OBX-3 repeats": "a JSON result has one LOINC code",
    "as the sender writes it in OBX-3": "cachexia local-code add: an operator's command",
    "its message id (MSH-10) held a personal value": "replay of an HL7 kept copy",
    "(PID-3 MR, or the number of the": "several patient numbers: HL7 PID-3, FHIR identifiers",
    "the medical record number (PID-3 MR) or": "a JSON message names one number, not blank",
}


def _reasons_a_json_message_can_get() -> list[str]:
    another = EarlierResult(HEAD.result_id, "S-2", "crp", AT)
    other_test = EarlierResult(HEAD.result_id, "S-1", "alt", AT)
    reasons = [
        chain_refusals.changed_final(within_message=True).reason,
        chain_refusals.changed_final(within_message=False).reason,
        withdrawn_chains.withdrawn_result().reason,
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


@pytest.mark.parametrize("reason", _reasons_a_json_message_can_get())
def test_every_reason_a_json_message_can_get_names_json_fields(reason: str) -> None:
    worded = for_json(reason)
    assert not speaks_hl7(worded), worded


def test_the_reused_id_and_changed_final_reasons_name_message_id_and_result_id() -> None:
    reused = for_json(recording.REUSED_ID_REASON)
    assert reused.startswith("this message_id was used before"), reused
    changed = for_json(chain_refusals.changed_final(within_message=False).reason)
    assert changed.startswith("send a changed final result as a correction (status corrected)")
    assert "this result_id already holds" in changed and "a result_id of its own" in changed


def test_a_reason_naming_nothing_of_hl7_is_left_as_it_is() -> None:
    reason = "crp result has no collection time"
    assert for_json(reason) is reason or for_json(reason) == reason


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


def test_every_reason_naming_an_hl7_field_is_said_for_json_or_is_hl7_only() -> None:
    """A new reason that names an HL7 field fails here until ``json_wording`` says it in
    JSON's words or ``HL7_ONLY`` says why no JSON message gets it."""
    unsaid = []
    for layer in ("domain", "service_layer"):
        for path in sorted((ROOT / layer).glob("*.py")):
            if path.name == "json_wording.py":  # the phrases themselves
                continue
            for literal in _literals(path):
                if not speaks_hl7(literal) or not speaks_hl7(for_json(literal)):
                    continue
                if not any(known in literal for known in HL7_ONLY):
                    unsaid.append(f"{path.name}: {literal[:100]}")
    assert unsaid == []
