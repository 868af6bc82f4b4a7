"""A FHIR result's key whatever the order of its identifiers, and the stored result they
name (review 121)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.model import Coding, ObservationInput
from services.lab_ingestion.domain.result_identifiers import (
    ResultIdentifier,
    StoredResult,
    choose_key,
    identifier_keys,
)

identifiers = st.lists(
    st.builds(
        ResultIdentifier,
        st.sampled_from(["", "FILL", "PLAC"]),
        st.sampled_from([None, "urn:lab", "urn:placer"]),
        st.text("AB1|", min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=6,
)


@given(identifiers, st.randoms(use_true_random=False))
def test_any_order_of_the_identifiers_gives_the_same_keys(
    ids: list[ResultIdentifier], rnd: object
) -> None:
    shuffled = list(ids)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert identifier_keys(ids, "1988-5") == identifier_keys(shuffled, "1988-5")


def test_a_filler_number_keys_before_a_placer_number_and_with_the_test() -> None:
    keys = identifier_keys(
        [
            ResultIdentifier("", "urn:a", "X"),
            ResultIdentifier("PLAC", "urn:p", "P1"),
            ResultIdentifier("FILL", "urn:f", "F1"),
        ],
        "751-8",
    )
    assert keys is not None
    assert keys.key == "urn:f|F1|751-8"
    assert keys.others == ("urn:a|X", "urn:p|P1|751-8")
    assert keys.before == ("urn:f|F1", "urn:p|P1")


CRP = (Coding("1988-5", "http://loinc.org"),)


def crp(key: str, *others: str, before: tuple[str, ...] = ()) -> ObservationInput:
    return ObservationInput(key, CRP, "20", other_keys=others, keys_before=before)


STORED = {k: f"#{k}" for k in ("a", "b", "c")}


def test_a_version_goes_under_the_stored_result_another_identifier_names() -> None:
    chosen = choose_key(crp("a", "b"), {"b": StoredResult("#b", frozenset({"crp"}))}, STORED, "~")
    assert (chosen.result_key, chosen.other_keys) == ("b", ("a",))
    # known by its stored form alone (an identifier stored with it)
    chosen = choose_key(crp("a"), {"a": StoredResult("#z", frozenset({"crp"}))}, STORED, "~")
    assert chosen.result_key == "~#z"


def test_identifiers_of_two_stored_results_conflict() -> None:
    found = {k: StoredResult(f"#{k}", frozenset({"crp"})) for k in ("a", "b")}
    assert choose_key(crp("a", "b"), found, STORED, "~").key_conflict is not None


def test_an_order_number_before_review_121_is_found_for_its_analyte_only() -> None:
    other = {"c": StoredResult("#c", frozenset({"neutrophils"}))}
    assert choose_key(crp("a", before=("c",)), other, STORED, "~").result_key == "a"
    same = {"c": StoredResult("#c", frozenset({"crp"}))}
    assert choose_key(crp("a", before=("c",)), same, STORED, "~").result_key == "c"
