"""Which of a FHIR result's identifiers keys it, and which stored result they name (pure).

FHIR gives ``Observation.identifier`` no order. Keyed by the first identifier, a result
resent with its identifiers in another order was stored and published a second time, and
a correction or cancellation listing a new identifier first was refused while its final
stood (review 121). So the key is chosen whatever the order: an identifier typed FILL
(HL7 table 0203: the filler's order number), then PLAC (the placer's), then the others, in
the sorted order of ``system|value``. An order number names the order, not the result: as
HL7 keys by the order AND the test, a FILL or PLAC identifier is keyed with the test's code
(two tests of one accession number are two results); an untyped identifier is the result's
own id, keyed as it is written.

A result's other identifiers (``ObservationInput.other_keys``) are stored with it, hashed
as its key is (``result_identifiers``, migration 0028), so that a later version naming it
by any of them finds it: the service reads which stored result each identifier names and
plans the version under that result's key (``choose_key``); identifiers naming different
stored results are refused. A result stored before review 121 is under its first
identifier's key, as written then (an order number without the test: ``keys_before``):
found too, an order number's only where it holds a result of the same analyte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.model import ObservationInput

# Identifier types (HL7 table 0203) of an order number: keyed together with the test
FILLER_NUMBER = "FILL"
PLACER_NUMBER = "PLAC"
ORDER_NUMBER_TYPES = (FILLER_NUMBER, PLACER_NUMBER)  # in the order a key is chosen
MAX_RESULT_IDENTIFIERS = 20  # more are refused (each is read from the database)


@dataclass(frozen=True)
class ResultIdentifier:
    """One identifier of a result as sent: its table 0203 type (``""``: none), system and
    value."""

    type_code: str
    system: str | None
    value: str

    @property
    def written(self) -> str:
        """The identifier as keys write it (the key of a result before review 121)."""
        return f"{self.system}|{self.value}" if self.system else self.value

    def key(self, test: str) -> str:
        """The key the identifier names a result by: an order number's with the test."""
        return f"{self.written}|{test}" if self.type_code in ORDER_NUMBER_TYPES else self.written


@dataclass(frozen=True)
class IdentifierKeys:
    key: str  # the result's key, of the identifier chosen whatever their order
    others: tuple[str, ...]  # the keys of its other identifiers, sorted
    before: tuple[str, ...]  # its order numbers' keys as made before review 121, sorted


def identifier_keys(identifiers: Sequence[ResultIdentifier], test: str) -> IdentifierKeys | None:
    """The keys of a result's identifiers (None: it has none with a value), the same for
    any order of them."""
    named = [i for i in identifiers if i.value]
    if not named:
        return None
    keys = sorted({i.key(test) for i in named})
    chosen = next(
        (
            min(i.key(test) for i in named if i.type_code == kind)
            for kind in ORDER_NUMBER_TYPES
            if any(i.type_code == kind for i in named)
        ),
        keys[0],
    )
    before = sorted({i.written for i in named if i.type_code in ORDER_NUMBER_TYPES} - set(keys))
    return IdentifierKeys(chosen, tuple(k for k in keys if k != chosen), tuple(before))


@dataclass(frozen=True)
class StoredResult:
    """The stored result an identifier's key names: the key it is stored under, as stored
    (its keyed hash), and the analytes of the rows there."""

    stored_key: str
    analytes: frozenset[str]


def keys_to_read(observation: ObservationInput) -> tuple[str, ...]:
    """Every key under which the observation's result may be stored, or named."""
    return (observation.result_key, *observation.other_keys, *observation.keys_before)


def choose_key(
    observation: ObservationInput,
    found: Mapping[str, StoredResult],
    stored_form: Mapping[str, str],
    resolved: str,
) -> ObservationInput:
    """The observation keyed as the stored result its identifiers name (``found``: what
    each of its keys names; ``stored_form``: each key's keyed hash), as sent when none
    does; with ``key_conflict`` when they name different stored results. ``resolved``:
    the marker a key only known by its hash is written behind (``stored_ids``)."""
    if not observation.other_keys and not observation.keys_before:
        named = found.get(observation.result_key)
        if named is None or named.stored_key == stored_form[observation.result_key]:
            return observation  # (the common case)
    identified = identify_analyte(observation.codes)
    analyte = identified[0].value if identified else None
    targets: dict[str, str] = {}  # stored key -> a key of the observation naming it
    for key in (observation.result_key, *observation.other_keys):
        if (named := found.get(key)) is not None:
            targets.setdefault(named.stored_key, key)
    for key in observation.keys_before:
        named = found.get(key)
        if named is not None and analyte is not None and named.analytes == {analyte}:
            targets.setdefault(named.stored_key, key)
    if not targets:
        return observation
    if len(targets) > 1:
        return replace(
            observation,
            key_conflict=(
                f"its identifiers name {len(targets)} different stored results: send it "
                "with the identifiers of one result"
            ),
        )
    ((stored, key),) = targets.items()
    by_hash = {stored_form[k]: k for k in keys_to_read(observation)}
    under = by_hash.get(stored, resolved + stored)
    if under == observation.result_key:
        return observation
    others = tuple(k for k in (observation.result_key, *observation.other_keys) if k != under)
    return replace(observation, result_key=under, other_keys=others)
