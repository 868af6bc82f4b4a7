"""PID-4 (alternate patient id, kept by v2.3-2.5.1 for backward compatibility as PID-2 is)
is read as one more of PID-3's repetitions, under PID-3's rules, and kept hashed as PID-3
and PID-2 are (review 185: ``PID|1||L999^^^LAB^PI|MRN4711^^^HOSP^MR``, the hospital's number
of an enrolled subject in PID-4, was "not enrolled, discarded")."""

from __future__ import annotations

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru, redact
from services.lab_ingestion.domain.model import IdentifierCandidate, Rejected
from services.lab_ingestion.domain.patient_identity import resolve_patient_identifier

HASH = "cd" * 32


def message(pid: str, control_id: str = "cMRN4711", order: str = "P1") -> str:
    return (
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|{control_id}|P|2.4\r"
        f"{pid}\rOBR|1|{order}|F1|CRP|||20261120081500+0100\r"
        "OBX|1|NM|1988-5^CRP^LN||42.5|mg/L|0-5|H|||F\r"
    )


def test_pid4_is_a_candidate_after_pid3_and_pid2() -> None:
    parsed, _ = parse_oru(message("PID|1|E1^^^EXT^PI|L999^^^LAB^PI|MRN4711^^^HOSP^MR"))
    assert parsed.identifier_candidates == (
        IdentifierCandidate("L999", "LAB", "PI"),
        IdentifierCandidate("E1", "EXT", "PI"),
        IdentifierCandidate("MRN4711", "HOSP", "MR"),
    )


@pytest.mark.parametrize(
    "pid",
    [
        "PID|1||L999^^^LAB^PI|MRN4711^^^HOSP^MR",  # two authorities, none configured
        "PID|1||L997|MRN4711",  # two untyped numbers of no authority
        "PID|1||MRN4711^^^HOSP^MR|MRN0002^^^HOSP^MR",  # two MRs of one authority
    ],
)
def test_pid4_never_picks_another_patient(pid: str) -> None:
    parsed, _ = parse_oru(message(pid))
    assert parsed.patient_identifier is None
    assert isinstance(resolve_patient_identifier(parsed, None), Rejected)


def test_the_senders_authority_chooses_pid4s_record_number() -> None:
    parsed, _ = parse_oru(message("PID|1||L999^^^LAB^PI|MRN4711^^^HOSP^MR"))
    assert resolve_patient_identifier(parsed, ("HOSP",)) == "MRN4711"


@pytest.mark.parametrize("pid", ["PID|1|||MRN4711^^^HOSP^MR", "PID|1|||MRN4711"])
def test_pid4_alone_names_the_patient(pid: str) -> None:
    parsed, _ = parse_oru(message(pid))
    assert parsed.patient_identifier == "MRN4711"


def test_pid4s_number_is_masked_in_the_message_id_and_order_numbers() -> None:
    text = message("PID|1|||MRN4711^^^HOSP^MR", control_id="MMRN47119", order="PMRN4711")
    parsed, _ = parse_oru(text, identify=lambda _: HASH)
    assert "MRN4711" not in parsed.control_id
    assert all("MRN4711" not in o.result_key for o in parsed.observations)


def test_the_kept_copy_keeps_pid4_hashed_and_masks_its_copies_in_ids() -> None:
    text = message(
        "PID|1||L999^^^LAB^PI|MRN4711^^^HOSP^MR", control_id="MMRN47119", order="PMRN4711"
    )
    kept = redact(text, lambda _: HASH)
    assert "MRN4711" not in kept and "L999" not in kept
    pid = next(line for line in kept.split("\r") if line.startswith("PID"))
    assert pid.split("|")[4] == f"HMAC:{HASH}^^^HOSP^MR"
    assert f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|M#{HASH[:12]}9|" in kept
    replayed, _ = parse_oru(kept)  # its replay reads the numbers as the message named them
    assert [c.kind for c in replayed.identifier_candidates] == ["PI", "MR"]


def test_pid4_of_another_number_type_is_dropped_and_scrubbed() -> None:
    text = message("PID|1||MRN4711^^^HOSP^MR|AN998877^^^HOSP^AN")
    parsed, _ = parse_oru(text)
    assert parsed.patient_identifier == "MRN4711"
    assert "AN998877" not in redact(text, lambda _: HASH)
