"""Which of a message's hospital numbers names its patient: the parser's default and the
sender's assigning authority (domain.patient_identity)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.authority_names import showable_authority
from services.lab_ingestion.domain.message_identity import versioned_control_id
from services.lab_ingestion.domain.model import (
    IdentifierCandidate,
    LabMessage,
    ObservationInput,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.patient_identity import (
    default_identifier,
    identified,
    of_several_authorities,
    resolve_patient_identifier,
)
from shared.contracts.events.lab import Channel


def numbers(*pairs: tuple[str, str]) -> tuple[IdentifierCandidate, ...]:
    return tuple(IdentifierCandidate(value, authority, "MR") for value, authority in pairs)


def lab_message(*pairs: tuple[str, str], keys: tuple[str, ...] = ("ORD1|1988-5|",)) -> LabMessage:
    """A message naming its patient by ``pairs`` (number, authority), all typed MR."""
    candidates = numbers(*pairs)
    observations = tuple(
        ObservationInput(key, (), "1", unscoped_key=key if key.startswith("@") else None)
        for key in keys
    )
    return LabMessage(
        Channel.MLLP, "LIS", "HOSP", "C-1", default_identifier(candidates), observations,
        identifier_candidates=candidates,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("pairs", "several", "chosen"),
    [
        ((), False, None),
        ((("1", "A"),), False, "1"),
        # one authority's two medical record numbers: which is the patient's cannot be told
        ((("1", "A"), ("2", "A")), False, None),
        ((("1", "A"), ("1", "B")), False, "1"),  # one number, named by two authorities
        ((("1", "A"), (" 1 ", "b")), False, "1"),  # the same number written differently
        ((("1", ""), ("2", "")), False, None),  # no authority at all: two numbers of one
        ((("1", "A"), ("2", "B")), True, None),
        ((("1", "A"), ("2", "")), True, None),  # a number without authority is not A's
        ((("1", "A"), ("2", "a")), False, None),  # authorities compared without case
        ((("1", "A"), ("", "A")), False, None),  # an empty MR beside another: missing
    ],
)
def test_numbers_of_several_authorities(
    pairs: tuple[tuple[str, str], ...], several: bool, chosen: str | None
) -> None:
    candidates = numbers(*pairs)
    assert of_several_authorities(candidates) is several
    assert default_identifier(candidates) == chosen


@pytest.mark.parametrize(
    ("pairs", "authority", "expected"),
    [
        # no authority configured: the parser's choice, or a rejection when it had none
        ((("1", "A"),), None, "1"),
        ((("1", "A"), ("2", "B")), None, RejectionCode.AMBIGUOUS_IDENTIFIER),
        ((("1", "A"), ("2", "B")), "  ", RejectionCode.AMBIGUOUS_IDENTIFIER),
        ((), None, None),
        # the sender's authority chooses, in any case
        ((("1", "A"), ("2", "B")), "B", "2"),
        ((("1", "A"), ("2", "B")), "b", "2"),
        ((("1", "A"), ("2", "B"), ("2", "B")), "B", "2"),
        # the authority's two different MRs: ambiguous, never the first
        ((("1", "A"), ("2", "B"), ("3", "B")), "B", RejectionCode.AMBIGUOUS_IDENTIFIER),
        ((("1", "A"),), "A", "1"),
        # numbers without authority are the sender's own
        ((("1", ""),), "A", "1"),
        ((("1", ""), ("1", "")), "A", "1"),
        ((("1", ""), ("2", "")), "A", RejectionCode.AMBIGUOUS_IDENTIFIER),
        ((("1", ""), ("2", "")), None, RejectionCode.AMBIGUOUS_IDENTIFIER),
        # a number of another authority is never matched
        ((("1", "B"),), "A", RejectionCode.MISSING_PATIENT),
        ((("1", "B"), ("2", "")), "A", "2"),  # an MR naming no authority: the sender's own
        ((("1", "B"), ("2", ""), ("3", "")), "A", RejectionCode.MISSING_PATIENT),
    ],
)
def test_the_senders_authority_chooses(
    pairs: tuple[tuple[str, str], ...], authority: str | None, expected: object
) -> None:
    chosen = resolve_patient_identifier(lab_message(*pairs), authority)
    if isinstance(expected, RejectionCode):
        assert isinstance(chosen, Rejected) and chosen.code is expected
    else:
        assert chosen == expected


def test_an_authority_is_known_by_its_namespace_or_universal_id_without_case_or_urn_oid() -> None:
    hospital = IdentifierCandidate("1", "HOSP", "MR", "2.16.756.5.30")
    same = IdentifierCandidate("1", "", "MR", "urn:oid:2.16.756.5.30")
    other = IdentifierCandidate("2", "", "PI", "URN:OID:2.16.756.5.30")
    assert not of_several_authorities((hospital, same, other))
    message = dataclasses.replace(
        lab_message(), patient_identifier=None,
        identifier_candidates=(IdentifierCandidate("9", "REGION", "MR"), other),
    )  # fmt: skip
    assert resolve_patient_identifier(message, "urn:oid:2.16.756.5.30") == "2"
    assert resolve_patient_identifier(message, " region ") == "9"


def test_an_empty_repetition_names_its_authority() -> None:
    """The hospital's MR is empty and a regional number follows: not the hospital's."""
    empty_hospital, regional = (
        IdentifierCandidate("", "HOSP", "MR"),
        IdentifierCandidate("4711", "REGION", "MR"),
    )
    assert of_several_authorities((empty_hospital, regional))
    assert default_identifier((empty_hospital, regional)) is None
    message = dataclasses.replace(
        lab_message(), patient_identifier=None, identifier_candidates=(empty_hospital, regional)
    )
    chosen = resolve_patient_identifier(message, "HOSP")
    assert isinstance(chosen, Rejected) and chosen.code is RejectionCode.MISSING_PATIENT


def test_beside_a_medical_record_number_untyped_numbers_of_no_other_authority_do_not_count() -> (
    None
):
    record = IdentifierCandidate("1", "HOSP", "MR")
    assert default_identifier((IdentifierCandidate("2"), record)) == "1"
    assert default_identifier((IdentifierCandidate("2", "hosp"), record)) == "1"
    # an untyped number of another authority may be the hospital's own (FHIR): it counts
    assert default_identifier((IdentifierCandidate("2", "AHV"), record)) is None
    typed = IdentifierCandidate("2", "LAB", "PI")  # the lab's own number: typed, it counts
    assert default_identifier((typed, record)) is None


def test_the_senders_authority_overrides_the_parsers_choice() -> None:
    """Whatever number the parser took, the sender's authority's number is the one matched,
    its untracked keys scoped to it."""
    region, hospital = (
        IdentifierCandidate("4711", "REGION", "MR"),
        IdentifierCandidate("8150", "HOSP"),
    )
    message = dataclasses.replace(
        lab_message(), patient_identifier=None, identifier_candidates=(region, hospital)
    )
    assert resolve_patient_identifier(message, "HOSP") == "8150"
    chosen = identified(
        dataclasses.replace(message, patient_identifier="4711"), "8150", lambda n: n * 16
    )
    assert chosen.patient_identifier == "8150"


@pytest.mark.parametrize(
    ("authority", "shown"),
    [
        ("HOSP", True), ("urn:oid:2.16.756.5.30.1.1", True), ("2.16.756.5.30", True),
        ("http://hosp.example/mrn", True), ("123-45-6789", False), ("756.1234.5678.97", False),
        ("7601001234567", False), ("HOSP1234567", False), ("", False),
    ],
)  # fmt: skip
def test_an_authority_that_may_be_a_persons_number_is_never_shown(
    authority: str, shown: bool
) -> None:
    assert showable_authority(authority) is shown


@pytest.mark.parametrize(
    "authority", ["Doe, Jane <1958>", "SMITH", "LAB A1234", "Mar 4 1961", "REGION"]
)
def test_a_rejection_counts_the_messages_authorities_and_never_names_them(authority: str) -> None:
    """A sender's CX-4 may hold a name, a number or a birth date: a reason is stored and
    published, so it says how many authorities there are (the kept message shows them)."""
    chosen = resolve_patient_identifier(lab_message(("MRN4711", authority), ("8150", "")), None)
    assert isinstance(chosen, Rejected)
    assert "one assigning authority and none" in chosen.reason
    assert authority not in chosen.reason and "4711" not in chosen.reason
    assert "8150" not in chosen.reason and "--identifier-authority" in chosen.reason
    other = resolve_patient_identifier(lab_message(("MRN4711", authority)), "HOSP")
    assert isinstance(other, Rejected) and "'HOSP'" in other.reason  # the configured one
    assert authority not in other.reason and "4711" not in other.reason


def test_the_authorities_of_a_rejection_are_counted_as_the_matching_counts_them() -> None:
    """One authority named by its namespace and its universal id counts once."""
    numbers = (
        IdentifierCandidate("1", "HOSP", "MR", "2.16.756.5.30.1"),
        IdentifierCandidate("2", "", "MR", "urn:oid:2.16.756.5.30.1"),
        IdentifierCandidate("3", "LAB", "MR"),
    )
    message = dataclasses.replace(lab_message(), patient_identifier=None,
                                  identifier_candidates=numbers)  # fmt: skip
    chosen = resolve_patient_identifier(message, None)
    assert isinstance(chosen, Rejected) and "2 assigning authorities (" in chosen.reason


def test_a_fhir_message_chosen_after_parsing_gets_the_patients_version_id() -> None:
    basis = '{"resultKey": "urn:lab|R1", "status": "final"}'
    message = dataclasses.replace(lab_message(("1", "A"), ("2", "B")), control_id_basis=basis)
    chosen = identified(message, "2", lambda number: "f" * 64)
    assert chosen.control_id == versioned_control_id(basis, "f" * 64)
    assert chosen.control_id != versioned_control_id(basis, "e" * 64)


def test_a_fhir_identifier_starting_with_at_is_no_untracked_key() -> None:
    message = lab_message(("1", "A"), ("2", "B"))
    fhir = dataclasses.replace(message, observations=(ObservationInput("@LAB-42", (), "1"),))
    chosen = identified(fhir, "2", lambda number: "f" * 64)
    assert chosen.observations[0].result_key == "@LAB-42"


def test_a_number_chosen_after_parsing_scopes_untracked_keys_once() -> None:
    message = lab_message(("1", "A"), ("2", "B"), keys=("@202611200815|1988-5|", "ORD|1988-5|"))
    chosen = identified(message, "2", lambda number: "f" * 64)
    assert chosen.patient_identifier == "2"
    assert [o.result_key for o in chosen.observations] == [
        f"@202611200815|1988-5||{'f' * 16}",
        "ORD|1988-5|",
    ]
    assert identified(chosen, " 2", lambda number: "e" * 64) is chosen  # the same number


authorities = st.sampled_from(["", "A", "a", "B", "REGION"])
candidate_lists = st.lists(
    st.tuples(st.sampled_from(["1", "2", " 1", "X9"]), authorities), max_size=4
)


@given(candidate_lists, st.one_of(st.none(), authorities))
def test_a_chosen_number_is_of_the_senders_authority_or_of_none(
    pairs: list[tuple[str, str]], authority: str | None
) -> None:
    """Whatever the message names: a number is chosen only when the choice is not a guess
    between authorities, and never a number of an authority other than the sender's."""
    message = lab_message(*pairs)
    chosen = resolve_patient_identifier(message, authority)
    candidates = message.identifier_candidates
    if isinstance(chosen, Rejected) or chosen is None:
        return
    assert chosen in [c.value for c in candidates]
    if authority and authority.strip():
        of_sender = [c for c in candidates if c.authority.casefold() == authority.casefold()]
        unqualified = [c.value for c in candidates if not c.authority]
        if of_sender:
            assert chosen == of_sender[0].value
        else:  # an MR naming no authority is the sender's own
            assert chosen in unqualified
    else:
        assert not of_several_authorities(candidates)
