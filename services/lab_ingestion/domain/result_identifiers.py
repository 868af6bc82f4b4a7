"""Which of a FHIR result's identifiers keys it, and which stored result a version names
(pure).

The key (review 124): an identifier typed FILL (HL7 table 0203: the filler's order number),
else PLAC (the placer's), keyed with the test's code (two tests of one accession number are
two results); else the FIRST untyped identifier as sent, the result's own id, keyed as it is
written. Untyped identifiers are often shared (a visit, an accession or a panel number), so
the first one sent is the lab's result id, as before review 121.

A version whose key names no stored result may be a resend or correction listing its
identifiers in another order (review 121): it is matched to a stored result through one of
its other identifiers only when that identifier is the stored result's OWN key (the one it
is stored under, never one of its other identifiers) and that result is of the same analyte
and the same patient (``choose_key``); any other hit is ignored, the version is a new
result. A shared visit or accession number must never make one result a version of another
(review 122: a day-2 CRP corrected, superseded or withdrew day 1's). Two stored results
named -> refused (``key_conflict``). A result stored before review 121 under an order
number without the test (``keys_before``) is found the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

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
    """The keys of a result's identifiers (None: it has none with a value): its key an order
    number's (FILL, then PLAC) whatever their order, else its first untyped one's as sent."""
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
        named[0].key(test),  # untyped only: the first as sent
    )
    before = sorted({i.written for i in named if i.type_code in ORDER_NUMBER_TYPES} - set(keys))
    return IdentifierKeys(chosen, tuple(k for k in keys if k != chosen), tuple(before))


@dataclass(frozen=True)
class StoredResult:
    """The stored result a key names (results stored under that very key): the key as stored
    (its keyed hash), the analytes of the rows there, and the keyed hashes of the hospital
    numbers of their subjects (the patients)."""

    stored_key: str
    analytes: frozenset[str]
    patients: frozenset[str] = frozenset()


SourceKey = tuple[str, str]


@dataclass(frozen=True)
class NamedResults:
    """What a careful batch read of the stored results its FHIR identifiers name
    (``result_keys.keyed_as_stored``): the stored result each (source, key) is the own key
    of, each key as stored, and each observation keyed as a stored result's, with itself as
    sent (by identity: ``as_sent``). Each result is keyed again as it is planned, beside the
    results the batch planned before it (``result_keys.keyed_as_planned``), under any key
    of ``to_read`` (the batch reads their chains): those found, and the keys as sent."""

    found: Mapping[SourceKey, StoredResult] = field(default_factory=dict)
    stored_form: Mapping[str, str] = field(default_factory=dict)
    sent: Mapping[int, tuple[ObservationInput, ObservationInput]] = field(default_factory=dict)
    to_read: tuple[SourceKey, ...] = ()

    def as_sent(self, observation: ObservationInput) -> ObservationInput:
        """``observation`` as sent, before it was keyed as a stored result."""
        kept = self.sent.get(id(observation))
        return kept[1] if kept is not None and kept[0] is observation else observation


NOTHING_NAMED = NamedResults()


def keys_to_read(observation: ObservationInput) -> tuple[str, ...]:
    """Every key under which the observation's result may be stored, or named."""
    return (observation.result_key, *observation.other_keys, *observation.keys_before)


def choose_key(
    observation: ObservationInput,
    found: Mapping[str, StoredResult],
    stored_form: Mapping[str, str],
    patient: str | None,
) -> ObservationInput:
    """The observation keyed as the stored result it is a version of (``found``: the stored
    result each of its keys is the own key of; ``stored_form``: each key's keyed hash;
    ``patient``: the keyed hash of its patient's number), as sent when its own key names
    one or no other key may; with ``key_conflict`` when two stored results may be it."""
    if observation.result_key in found or not found:
        return observation  # (the common case)
    identified = identify_analyte(observation.codes)
    analyte = identified[0].value if identified else None
    if analyte is None or patient is None:
        return observation
    targets: dict[str, str] = {}  # stored key -> the key of the observation naming it
    for key in (*observation.other_keys, *observation.keys_before):
        named = found.get(key)
        if (
            named is not None
            and named.stored_key == stored_form[key]  # its own key, not another identifier
            and named.analytes == {analyte}
            and named.patients == {patient}
        ):
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
    ((_, under),) = targets.items()
    others = tuple(k for k in (observation.result_key, *observation.other_keys) if k != under)
    return replace(observation, result_key=under, other_keys=others)
