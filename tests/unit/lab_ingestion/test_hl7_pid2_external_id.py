"""PID-2 (external patient id, v2.3/v2.4) is read as one more of PID-3's repetitions, under
PID-3's rules (review 119: ``PID|1|MRN4711^^^HOSP^MR|L998877^^^CENTRALLAB^PI`` was
"not enrolled, discarded" though MRN4711 is enrolled), and kept hashed as PID-3 is."""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru, redact
from services.lab_ingestion.domain.model import IdentifierCandidate, Rejected
from services.lab_ingestion.domain.patient_identity import resolve_patient_identifier

HASH = "cd" * 32


def message(pid: str) -> str:
    return (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|cMRN4711|P|2.3\r"
        f"{pid}\rOBR|1|P1|F1|CRP|||20261120081500+0100\r"
        "OBX|1|NM|1988-5^CRP^LN||42.5|mg/L|0-5|H|||F|||MRN4711\r"
    )


def test_pid2_is_a_candidate_after_pid3() -> None:
    parsed, _ = parse_oru(message("PID|1|MRN4711^^^HOSP^MR|L998877^^^CENTRALLAB^PI"))
    assert parsed.identifier_candidates == (
        IdentifierCandidate("L998877", "CENTRALLAB", "PI"),
        IdentifierCandidate("MRN4711", "HOSP", "MR"),
    )


def test_the_senders_authority_chooses_pid2s_record_number() -> None:
    parsed, _ = parse_oru(message("PID|1|MRN4711^^^HOSP^MR|L998877^^^CENTRALLAB^PI"))
    assert parsed.patient_identifier is None  # two authorities: never the first
    assert resolve_patient_identifier(parsed, ("HOSP",)) == "MRN4711"
    assert isinstance(resolve_patient_identifier(parsed, None), Rejected)


@pytest.mark.parametrize(
    "pid",
    [
        "PID|1|MRN4711|L998877",  # two untyped numbers of no authority: ambiguous
        "PID|1|MRN4711^^^HOSP^MR|MRN0002^^^HOSP^MR",  # two MRs of one authority
    ],
)
def test_pid2_never_picks_another_patient(pid: str) -> None:
    parsed, _ = parse_oru(message(pid))
    assert parsed.patient_identifier is None
    assert isinstance(resolve_patient_identifier(parsed, None), Rejected)


def test_pid2_alone_names_the_patient() -> None:
    parsed, _ = parse_oru(message("PID|1|MRN4711^^^HOSP^MR|"))
    assert parsed.patient_identifier == "MRN4711"


def test_pid2_of_the_same_number_is_no_ambiguity() -> None:
    parsed, _ = parse_oru(message("PID|1|MRN4711^^^HOSP^MR|MRN4711^^^HOSP^MR"))
    assert parsed.patient_identifier == "MRN4711"


def test_pid2s_number_is_masked_in_the_message_id() -> None:
    parsed, _ = parse_oru(message("PID|1|MRN4711^^^HOSP^MR|"), identify=lambda _: HASH)
    assert "MRN4711" not in parsed.control_id


def test_the_kept_copy_keeps_pid2_hashed_and_scrubs_its_copies() -> None:
    kept = redact(message("PID|1|MRN4711^^^HOSP^MR|L998877^^^CENTRALLAB^PI"), lambda _: HASH)
    assert "MRN4711" not in kept and "L998877" not in kept
    pid = next(line for line in kept.split("\r") if line.startswith("PID"))
    assert pid.split("|")[2] == f"HMAC:{HASH}^^^HOSP^MR"
    assert pid.split("|")[3] == f"HMAC:{HASH}^^^CENTRALLAB^PI"
    # its replay reads the patient's numbers as the message named them
    replayed, _ = parse_oru(kept)
    assert [c.kind for c in replayed.identifier_candidates] == ["PI", "MR"]


def test_pid2_of_another_number_type_is_dropped_and_scrubbed() -> None:
    text = message("PID|1|AN998877^^^HOSP^AN|MRN4711^^^HOSP^MR")
    parsed, _ = parse_oru(text)
    assert parsed.patient_identifier == "MRN4711"
    kept = redact(text, lambda _: HASH)
    assert "AN998877" not in kept


def test_a_name_or_number_run_into_the_specimens_id_is_not_kept() -> None:
    """SPM is read since review 119 (SPM-17); SPM-2, the specimen's id, is masked as the
    order numbers are: a patient's number or name and birth date run into it."""
    text = message("PID|1||MRN4711^^^HOSP^MR||DOE^JOHN||19580214|M") + (
        "SPM|1|XMRN4711-01&LAB^DOE19580214||119297000^Blood^SCT|||||||||||||20261120081500+0100\r"
    )
    kept = redact(text, lambda _: HASH)
    spm = next(line for line in kept.split("\r") if line.startswith("SPM"))
    assert "MRN4711" not in spm and "19580214" not in spm and "DOE" not in spm
    assert spm.split("|")[17] == "20261120081500+0100"  # read: kept as written
