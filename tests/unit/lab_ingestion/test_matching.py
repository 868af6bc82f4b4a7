"""Matching a hashed hospital identifier to an enrolled subject, per sender site."""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.matching import mask_identifier_in_id, match_subject
from services.lab_ingestion.domain.model import (
    Coding,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.records import EnrolledSubject
from shared.contracts.events.lab import Channel

ZH, BE = EnrolledSubject("S-1", "CH-01"), EnrolledSubject("S-2", "CH-02")


@pytest.mark.parametrize(
    ("enrolled", "site", "expected"),
    [
        ((), None, None),
        ((ZH,), None, "S-1"),
        ((ZH,), "CH-01", "S-1"),
        ((ZH,), "CH-02", None),  # another hospital's patient with the same number
        ((ZH, BE), "CH-02", "S-2"),
    ],
)
def test_the_subject_at_the_senders_site(
    enrolled: tuple[EnrolledSubject, ...], site: str | None, expected: str | None
) -> None:
    assert match_subject(enrolled, site) == expected


@pytest.mark.parametrize(
    ("enrolled", "site", "advice"),
    [((ZH, BE), None, "--site"), ((ZH, EnrolledSubject("S-3", "CH-01")), "CH-01", "enrolment")],
)
def test_several_subjects_under_one_identifier_are_never_matched(
    enrolled: tuple[EnrolledSubject, ...], site: str | None, advice: str
) -> None:
    matched = match_subject(enrolled, site)
    assert isinstance(matched, Rejected)
    assert matched.code is RejectionCode.AMBIGUOUS_PATIENT and advice in matched.reason


def hash_of(identifier: str) -> str:
    return f"{identifier.upper()}-hash".encode().hex()


def lab_message(control_id: str, identifier: str | None = "MRN004711") -> LabMessage:
    return LabMessage(Channel.JSON, "LIS", "HOSP", control_id, identifier, ())


@pytest.mark.parametrize(
    ("control_id", "identifier", "masked"),
    [
        ("LAB-MRN004711-1", "MRN004711", f"LAB-#{hash_of('MRN004711')[:12]}-1"),
        ("lab-mrn004711-1", "MRN004711", f"lab-#{hash_of('MRN004711')[:12]}-1"),
        ("LAB-20261120-1", "MRN004711", "LAB-20261120-1"),  # no number in it: as sent
        ("LAB-123-1", "123", "LAB-123-1"),  # too short to tell from other digits
        ("LAB-1", None, "LAB-1"),
        ("LAB-MRN004711-1", "mrn 004711", f"LAB-#{hash_of('mrn 004711')[:12]}-1"),  # as matched
    ],
)
def test_a_message_id_built_from_the_hospital_number_is_masked(
    control_id: str, identifier: str | None, masked: str
) -> None:
    assert mask_identifier_in_id(lab_message(control_id, identifier), hash_of).control_id == masked


def test_two_patients_ids_stay_two_ids_and_a_resend_finds_its_message() -> None:
    first = mask_identifier_in_id(lab_message("X-MRN1111-1", "MRN1111"), hash_of)
    other = mask_identifier_in_id(lab_message("X-MRN2222-1", "MRN2222"), hash_of)
    again = mask_identifier_in_id(lab_message("X-MRN1111-1", "MRN1111"), hash_of)
    assert first.control_id != other.control_id and first.control_id == again.control_id


def test_a_case_variant_of_a_number_in_the_message_id_is_masked_never_a_crash() -> None:
    """The Kelvin sign matches K without case but is not K in upper case."""
    message = lab_message("X-K4711-\u212a4711", "K4711")
    masked = mask_identifier_in_id(message, lambda number: "c" * 64)
    assert masked.control_id == f"X-#{'c' * 12}-#{'c' * 12}"


def test_result_keys_built_from_the_hospital_number_are_masked_as_the_message_id() -> None:
    """An order number made of the patient's number is stored as the result key: masked the
    same way each time, so that a correction still finds the result it corrects."""
    key = "4711815-0001|1988-5|"
    result = ObservationInput(key, (Coding("1988-5"),), "12", ("mg/L",))
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "C-1", "4711815", (result,))
    masked = mask_identifier_in_id(message, hash_of)
    again = mask_identifier_in_id(message, hash_of)
    assert masked.observations[0].result_key == f"#{hash_of('4711815')[:12]}-0001|1988-5|"
    assert masked.observations == again.observations
    assert masked.control_id == "C-1"


def test_a_message_without_a_number_in_its_ids_is_returned_as_it_is() -> None:
    result = ObservationInput("ORD-1|1988-5|", (Coding("1988-5"),), "12", ("mg/L",))
    message = LabMessage(Channel.MLLP, "LIS", "HOSP", "C-1", "4711815", (result,))
    assert mask_identifier_in_id(message, hash_of) is message


def mark(value: str) -> str:
    return f"#{hash_of(value)[:12]}"


def test_a_number_written_in_groups_is_masked_as_its_digits_with_the_numbers_hash() -> None:
    """``987.654.321`` in PID-3 and ``987654321`` in the id: the same replacement as the
    number (its hash), so that the message's ids are the same whichever way it was written."""
    masked = mask_identifier_in_id(lab_message("X987654321-1", "987.654.321"), hash_of)
    assert masked.control_id == f"X{mark('987.654.321')}-1"
    short = mask_identifier_in_id(lab_message("X1234-1", "12.34"), hash_of)  # four digits
    assert short.control_id == "X1234-1"


def test_a_number_written_as_those_digits_keeps_its_own_hash_whatever_the_order() -> None:
    both = ("987.654.321", "987654321")
    for numbers in (both, both[::-1]):
        message = lab_message("X987654321", None)
        masked = mask_identifier_in_id(message, hash_of, numbers).control_id
        assert masked == f"X{mark('987654321')}"
