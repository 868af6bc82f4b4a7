"""A FHIR Observation's comparators, checked against R4 before its value or range is read.

- ``valueQuantity.comparator`` is bound (required) to R4's QuantityComparator codes ``<``,
  ``<=``, ``>=`` and ``>`` (R4 and R4B list these four; ``ad``, "sufficient to achieve this
  total quantity", came with R5). Any other code (``≤``, ``=<``, ``=``, ``lt``, ``ad``) is
  invalid (400 ``code-invalid``), as a status outside R4's set is (review 261: ``≤`` was
  read as the text ``≤5``, a limit ``<=``, where the code says nothing FHIR defines; review
  268: ``ad`` was taken for an R4 code and refused as non-numeric, 422);
- a reference range's ``low`` and ``high`` are SimpleQuantities, which have no comparator
  (invariant sqty-1): a bound with one is refused (400 ``invariant``), never read as a
  plain limit (review 261: ``low`` ``>1`` was published as LLN 1), as a bound written as a
  string is refused (``fhir_screening``) and as a reversed Period is (per-1).

Both on every Observation, another test's too (invalid FHIR, as a status outside R4's set).
The code sent is never quoted (it is the sender's text).
"""

from __future__ import annotations

from typing import Final

from fhir.resources.R4B.observation import Observation

from services.lab_ingestion.adapters.fhir_outcome import input_error

QUANTITY_COMPARATORS: Final = ("<", "<=", ">=", ">")  # R4's value set, as it lists them
COMPARATOR_TEXT: Final = (
    "comparator is not an R4 QuantityComparator code (" + ", ".join(QUANTITY_COMPARATORS) + ")"
)
RANGE_COMPARATOR_TEXT: Final = (
    "sqty-1: a reference range bound is a SimpleQuantity and has no comparator; send the "
    "range's limits as low and high (a bound alone for an open range)"
)


def refuse_unlisted_comparators(obs: Observation, where: str) -> None:
    """Raise ``FhirInputError`` for a value's comparator outside R4's codes and for a
    comparator on any reference range's bound."""
    comparator = obs.valueQuantity.comparator if obs.valueQuantity is not None else None
    if comparator is not None and comparator not in QUANTITY_COMPARATORS:
        raise input_error("code-invalid", COMPARATOR_TEXT, f"{where}.valueQuantity.comparator")
    for index, ref in enumerate(obs.referenceRange or []):
        for side, bound in (("low", ref.low), ("high", ref.high)):
            if bound is not None and bound.comparator is not None:
                raise input_error(
                    "invariant",
                    RANGE_COMPARATOR_TEXT,
                    f"{where}.referenceRange[{index}].{side}.comparator",
                )
