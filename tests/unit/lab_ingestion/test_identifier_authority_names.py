"""One assigning authority known by several names (review 69): HL7 v2 writes the hospital's
authority as the namespace HOSP, FHIR as the system urn:hosp; a sender configured with both
(`cachexia source add --identifier-authority HOSP --identifier-authority urn:hosp`) has its
numbers of either matched, and a number of a third authority still never."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.sources import authority_names, sender_of
from services.lab_ingestion.domain.authority_names import configured_names, shown_names
from services.lab_ingestion.domain.model import (
    IdentifierCandidate,
    LabMessage,
    Rejected,
    RejectionCode,
)
from services.lab_ingestion.domain.patient_identity import (
    default_identifier,
    resolve_patient_identifier,
)
from services.lab_ingestion.domain.records import Sender
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestTransaction
from shared.contracts.topics import LAB_REJECTED, LAB_RESULTS
from tests.unit.lab_ingestion.test_batch_ingestor import AT, FakeDatabase, ingestor
from tests.unit.lab_ingestion.test_identifier_authority import naming
from tests.unit.lab_ingestion.test_patient_identity import lab_message

HOSP = ("HOSP", "urn:hosp")  # the hospital's authority as HL7 and as FHIR name it


def with_candidates(*candidates: IdentifierCandidate) -> LabMessage:
    return dataclasses.replace(
        lab_message(),
        patient_identifier=default_identifier(candidates),
        identifier_candidates=candidates,
    )


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ((("MRN1", "urn:hosp"),), "MRN1"),  # FHIR: the README's Observation
        ((("MRN1", "HOSP"),), "MRN1"),  # HL7: PID-3 MRN1^^^HOSP^MR
        ((("MRN1", "URN:HOSP"),), "MRN1"),  # without case, as one name is
        ((("MRN1", "urn:hosp"), ("R-77", "REGION")), "MRN1"),  # it chooses
        ((("MRN1", "HOSP"), ("MRN1", "urn:hosp")), "MRN1"),  # one number, named twice
        ((("R-77", "REGION"),), RejectionCode.MISSING_PATIENT),  # a third: never matched
        ((("MRN1", "HOSP"), ("MRN2", "urn:hosp")), RejectionCode.AMBIGUOUS_IDENTIFIER),
    ],
)
def test_a_number_of_any_of_the_authoritys_names_is_the_senders(
    pairs: tuple[tuple[str, str], ...], expected: object
) -> None:
    chosen = resolve_patient_identifier(lab_message(*pairs), HOSP)
    if isinstance(expected, RejectionCode):
        assert isinstance(chosen, Rejected) and chosen.code is expected
    else:
        assert chosen == expected
    # one name alone: the FHIR system is another authority's, as before
    alone = resolve_patient_identifier(lab_message(("MRN1", "urn:hosp")), "HOSP")
    assert isinstance(alone, Rejected) and alone.code is RejectionCode.MISSING_PATIENT


def test_an_oid_name_matches_an_hl7_universal_id_and_a_fhir_urn_oid() -> None:
    names = ("HOSP", "2.16.756.5.30.1.123")
    hl7 = IdentifierCandidate("1", "", "MR", "2.16.756.5.30.1.123")  # ^^^&2.16...&ISO^MR
    fhir = IdentifierCandidate("1", "urn:oid:2.16.756.5.30.1.123")
    for candidate in (hl7, fhir):
        assert resolve_patient_identifier(with_candidates(candidate), names) == "1"


def test_a_reason_names_the_configured_names_and_never_a_patients_number() -> None:
    chosen = resolve_patient_identifier(lab_message(("R-77", "REGION")), HOSP)
    assert isinstance(chosen, Rejected)
    assert chosen.reason.startswith(
        "no patient number of the sender's assigning authority 'HOSP' or 'urn:hosp'; "
    )
    assert "R-77" not in chosen.reason and "REGION" not in chosen.reason


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (("HOSP",), "'HOSP'"),
        (("HOSP", "urn:hosp"), "'HOSP' or 'urn:hosp'"),
        (("HOSP", "https://hosp.example.org/patients/mrn"), "'HOSP' (or 1 other name)"),
        (("HOSP", "urn:hosp", "urn:oid:2.16.756.5.30.1.123"), "'HOSP' (or 2 other names)"),
        (("HOSP", "756.1234.5678.97"), "'HOSP' or '(not shown)'"),  # a number misplaced
    ],
)
def test_a_reason_names_them_all_when_short_else_the_first(
    names: tuple[str, ...], shown: str
) -> None:
    assert shown_names(names) == shown


_NAMES = st.sampled_from(["A", "B", "C", "a", "urn:oid:1.2.3.4", "1.2.3.4", ""])
_CANDIDATES = st.lists(
    st.builds(
        IdentifierCandidate,
        st.sampled_from(["1", "2", ""]),
        _NAMES,
        st.sampled_from(["MR", "PI", ""]),
    ),
    max_size=4,
)


@given(_CANDIDATES, _NAMES)
def test_one_name_is_matched_as_before_whether_given_as_a_text_or_as_names(
    candidates: list[IdentifierCandidate], name: str
) -> None:
    message = with_candidates(*candidates)
    assert resolve_patient_identifier(message, name) == resolve_patient_identifier(message, (name,))


def _outcome(chosen: str | Rejected | None) -> object:
    return chosen.code if isinstance(chosen, Rejected) else chosen


@given(_CANDIDATES)
def test_an_alias_matches_as_if_every_number_named_the_first_name(
    candidates: list[IdentifierCandidate],
) -> None:
    """Configured as A and B, a message is matched as the same message with each B written
    A would be by A alone; a third authority C stays another's."""
    renamed = [dataclasses.replace(c, authority="A" if c.authority == "B" else c.authority)
               for c in candidates]  # fmt: skip
    both = resolve_patient_identifier(with_candidates(*candidates), ("A", "B"))
    alone = resolve_patient_identifier(with_candidates(*renamed), "A")
    assert _outcome(both) == _outcome(alone)


@given(_CANDIDATES, st.lists(_NAMES, max_size=3))
def test_a_name_no_number_names_changes_nothing(
    candidates: list[IdentifierCandidate], names: list[str]
) -> None:
    """Configured, an authority's name no number names is never a number's (unconfigured,
    the parser's choice stands: a name is configuration, not a third authority)."""
    assume(configured_names(names))
    message = with_candidates(*candidates)
    unused = [*names, "urn:never-sent"]
    expected = _outcome(resolve_patient_identifier(message, names))
    assert _outcome(resolve_patient_identifier(message, unused)) == expected


def test_names_are_kept_in_order_without_blanks_or_repeats() -> None:
    assert authority_names(" HOSP ") == ("HOSP",)
    assert authority_names(["HOSP", " ", "urn:hosp", "hosp", "urn:oid:1.2.3.4", "1.2.3.4"]) == (
        "HOSP",
        "urn:hosp",
        "urn:oid:1.2.3.4",
    )
    assert authority_names(None) == () and authority_names([]) == ()
    assert configured_names(None) == () and configured_names("urn:oid:") == ()
    assert configured_names(["HOSP", "", "urn:hosp"]) == HOSP


def test_a_sender_is_known_by_every_name_of_its_authority() -> None:
    assert Sender(None, None, "HOSP", ("urn:hosp",)).identifier_authorities == HOSP
    assert Sender(None, None, "HOSP").identifier_authorities == ("HOSP",)
    assert Sender().identifier_authorities == ()


def _row(first: str | None, names: list[str]) -> dict[str, object]:
    return {"time_zone": None, "site_id": "CH-01", "identifier_authority": first,
            "identifier_authority_names": names}  # fmt: skip


@pytest.mark.parametrize(
    ("first", "names", "expected"),
    [
        ("HOSP", ["HOSP", "urn:hosp"], HOSP),
        ("HOSP", [], ("HOSP",)),  # kept before migration 0021
        ("HOSP", ["HOSP"], ("HOSP",)),
        # a previous version's `source add` replaced the authority since: its name alone
        ("H2", ["HOSP", "urn:hosp"], ("H2",)),
        (None, ["HOSP", "urn:hosp"], ()),  # ... or forgot it
    ],
)
def test_a_row_names_the_authority_by_its_names_only_while_they_are_its(
    first: str | None, names: list[str], expected: tuple[str, ...]
) -> None:
    assert sender_of(_row(first, names)).identifier_authorities == expected


# the batch: both paths (a new result on the fast path, a correction on the careful one)


def hospital(control_id: str, value: str, authority: str, status: str = "F") -> IngestLabMessage:
    command = naming(control_id, (value, authority), key="K")
    observations = tuple(
        dataclasses.replace(o, status=status) for o in command.message.observations
    )
    return dataclasses.replace(
        command, message=dataclasses.replace(command.message, observations=observations)
    )


def configured(**enrolled: str) -> FakeDatabase:
    return FakeDatabase(
        enrolled={f"h({number})": subject for number, subject in enrolled.items()},
        identifier_authority="HOSP",
        other_authority_names=("urn:hosp",),
    )


async def test_a_batch_matches_the_numbers_of_either_name_on_both_paths() -> None:
    db = configured(MRN1="S-1", R77="S-9")
    ingest = ingestor(db)
    (first,) = await ingest([hospital("1", "MRN1", "urn:hosp")])
    assert first.accepted and first.results == 1
    (correction,) = await ingest([hospital("2", "MRN1", "HOSP", status="C")])
    assert correction.accepted and correction.results == 1
    assert [r.subject_id for r in db.results] == ["S-1", "S-1"]
    assert db.results[1].supersedes_result_id == db.results[0].result_id
    assert [topic for topic, _ in db.events] == [LAB_RESULTS, LAB_RESULTS]


async def test_a_batch_never_matches_a_third_authoritys_number() -> None:
    db = configured(R77="S-9")
    (outcome,) = await ingestor(db)([hospital("1", "R77", "REGION")])
    assert outcome.code is RejectionCode.MISSING_PATIENT
    assert "'HOSP' or 'urn:hosp'" in outcome.reason and "R77" not in outcome.reason
    assert db.results == [] and [topic for topic, _ in db.events] == [LAB_REJECTED]
    transaction = IngestTransaction((hospital("2", "R77", "region").message,), lambda: "", AT)
    (refused,) = await ingestor(db)([transaction])
    assert refused.code is RejectionCode.MISSING_PATIENT and db.results == []
