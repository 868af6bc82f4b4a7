"""The cost of a redacted copy that names many patients' numbers (review 132): one FHIR
Observation of 1.2 MB with 16,000 contained Patients took 31 s, because every number's forms
were looked for in every string, a pattern compiled for each, and the hashes written in
found by an alternation of thousands. Now one pattern finds the numbers (a trie) and the
hashes are looked up in a set, and what is masked is what was (the former functions are
the oracle). Costs are compared at two sizes as Python steps (``tests.python_steps``), which
no load of the machine changes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters import redaction
from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.domain.literal_patterns import literal_pattern, literal_spans
from services.lab_ingestion.domain.matching import _forms, _unchanged, numbers_masked
from tests.python_steps import StepBudgetExceeded, python_steps
from tests.unit.lab_ingestion.hl7_samples import FAST
from tests.unit.lab_ingestion.route_fakes import observation_naming_patients


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _steps(patients: int, budget: int | None = None) -> int:
    body = observation_naming_patients(patients)
    kept: list[object] = []
    steps = python_steps(lambda: kept.append(redact_fhir(body, _hash)), budget)
    assert "M00042" not in str(kept)
    return steps


def test_a_copy_naming_thousands_of_patients_is_redacted_in_linear_time() -> None:
    """Three times the Patients, at most four times the Python steps (linear: about 3; the
    former redaction: about 9, its numbers' forms looked for in every string, below); the
    seconds are measured by ``bench/redaction_cost.py``."""
    small = _steps(1000)
    _steps(3000, budget=4 * small)


def test_the_linear_bound_tells_the_former_redaction_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redaction, "numbers_masked", _old_numbers_masked)
    small = _steps(300)
    with pytest.raises(StepBudgetExceeded):
        _steps(900, budget=4 * small)


# --- the same output as before ------------------------------------------------------------


def _old_numbers_masked(
    numbers: Iterable[str], identify: Callable[[str], str], mark: str = "#"
) -> Callable[[str], str]:
    forms = _forms(numbers)
    if not forms:
        return _unchanged

    def masked_match(match: re.Match[str]) -> str:
        number = forms.get(match.group(0).upper(), match.group(0))
        return f"{mark}{identify(number)[:12]}"

    def masked(text: str) -> str:
        upper = text.upper()
        found = [form for form in forms if form in upper]
        if not found:
            return text
        longest_first = sorted(found, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(form) for form in longest_first), re.IGNORECASE)
        return pattern.sub(masked_match, text)

    return masked


CHARACTERS = "MRNmrn0123456789 .-/ßSsKkİi\u212a\u017fab"
NUMBERS = st.lists(st.text(alphabet=CHARACTERS, min_size=1, max_size=10), max_size=6)


@FAST
@given(numbers=NUMBERS, texts=st.lists(st.text(alphabet=CHARACTERS, max_size=30), max_size=4))
def test_numbers_are_masked_as_before(numbers: list[str], texts: list[str]) -> None:
    texts += ["".join(numbers), " ".join(numbers).lower()]
    new, old = numbers_masked(numbers, _hash), _old_numbers_masked(numbers, _hash)
    for text in texts:
        assert new(text) == old(text)


@FAST
@given(
    literals=st.lists(st.text(alphabet="ab01", min_size=1, max_size=5), max_size=8),
    text=st.text(alphabet="ab01x", max_size=40),
)
def test_literals_are_found_as_an_alternation_finds_them(literals: list[str], text: str) -> None:
    """The longest first at a position, as a trie and as a set (literals of one length, as
    hashes are, where the order of an alternation of several lengths is arbitrary)."""
    longest_first = sorted(set(literals), key=len, reverse=True)
    alternation = re.compile("|".join(map(re.escape, longest_first)) or "(?!)")
    expected = [m.span() for m in alternation.finditer(text)]
    assert [m.span() for m in literal_pattern(literals).finditer(text)] == expected
    same_length = [literal for literal in literals if len(literal) == 3]
    one_length = re.compile("|".join(map(re.escape, set(same_length))) or "(?!)")
    spans = literal_spans(same_length)
    assert list(spans(text)) == [m.span() for m in one_length.finditer(text)]
