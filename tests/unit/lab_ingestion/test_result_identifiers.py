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
def test_the_key_is_an_order_numbers_whatever_the_order_else_the_first_untyped_as_sent(
    ids: list[ResultIdentifier], rnd: object
) -> None:
    keys = identifier_keys(ids, "1988-5")
    assert keys is not None
    typed = [i for i in ids if i.type_code]
    if typed:  # an order number keys it, whatever the order
        shuffled = list(ids)
        rnd.shuffle(shuffled)  # type: ignore[attr-defined]
        assert identifier_keys(shuffled, "1988-5") == keys
    else:  # the first untyped one as sent (review 124), never the sorted first
        assert keys.key == ids[0].key("1988-5")
    assert keys.key not in keys.others


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


def test_a_shared_number_sorting_first_never_keys_a_result() -> None:
    """review 122: ``urn:a|ACC-6`` (a panel's accession number) sorts first"""
    keys = identifier_keys(
        [ResultIdentifier("", "urn:lab:result", "R-HB-2"), ResultIdentifier("", "urn:a", "ACC-6")],
        "718-7",
    )
    assert keys is not None
    assert (keys.key, keys.others) == ("urn:lab:result|R-HB-2", ("urn:a|ACC-6",))


CRP = (Coding("1988-5", "http://loinc.org"),)
ME, OTHER = "hmac-me", "hmac-other"


def crp(key: str, *others: str, before: tuple[str, ...] = ()) -> ObservationInput:
    return ObservationInput(key, CRP, "20", other_keys=others, keys_before=before)


STORED = {k: f"#{k}" for k in ("a", "b", "c")}


def stored(key: str, analyte: str = "crp", patient: str = ME) -> StoredResult:
    return StoredResult(f"#{key}", frozenset({analyte}), frozenset({patient}))


def test_a_version_goes_under_the_stored_result_its_other_identifier_keys() -> None:
    """identifiers swapped: the other one is the stored result's own key"""
    chosen = choose_key(crp("a", "b"), {"b": stored("b")}, STORED, ME)
    assert (chosen.result_key, chosen.other_keys) == ("b", ("a",))


def test_a_version_whose_own_key_names_a_result_stays_under_it() -> None:
    found = {"a": stored("a"), "b": stored("b")}
    assert choose_key(crp("a", "b"), found, STORED, ME).result_key == "a"


def test_another_analytes_or_patients_or_unknown_patients_result_is_never_named() -> None:
    """review 122: a shared accession or visit number names no other result"""
    for found, patient in (
        ({"b": stored("b", analyte="haemoglobin")}, ME),
        ({"b": stored("b", patient=OTHER)}, ME),
        ({"b": stored("b")}, None),
        ({"b": StoredResult("#b", frozenset({"crp"}), frozenset({ME, OTHER}))}, ME),
    ):
        chosen = choose_key(crp("a", "b"), found, STORED, patient)
        assert (chosen.result_key, chosen.key_conflict) == ("a", None)


def test_a_result_found_only_under_another_key_than_its_identifiers_is_not_named() -> None:
    """only a stored result's own key names it, never an identifier stored with it"""
    chosen = choose_key(crp("a", "b"), {"b": stored("z")}, STORED, ME)
    assert chosen.result_key == "a"


def test_identifiers_of_two_stored_results_conflict() -> None:
    found = {k: stored(k) for k in ("b", "c")}
    assert choose_key(crp("a", "b", "c"), found, STORED, ME).key_conflict is not None


def test_an_order_number_before_review_121_is_found_for_its_analyte_only() -> None:
    other = {"c": stored("c", analyte="neutrophils")}
    assert choose_key(crp("a", before=("c",)), other, STORED, ME).result_key == "a"
    assert choose_key(crp("a", before=("c",)), {"c": stored("c")}, STORED, ME).result_key == "c"
