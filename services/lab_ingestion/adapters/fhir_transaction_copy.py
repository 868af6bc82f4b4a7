"""What a rejected FHIR transaction keeps of the patients who are not enrolled: nothing.

A transaction is rejected whole, and its redacted copy (``RedactedFhir``) was the whole
Bundle: an entry of a patient not enrolled kept their keyed hash, value and times, though
stored, the transaction would have discarded it with nothing kept (review 109). The copy
leaves out those Observations' entries, and every other entry that names (by its keyed hash)
only patients of theirs: their Patient entry, another analyte's Observation of theirs; and
then every entry that is no other message's and refers to a left-out entry by its
``fullUrl`` (their glucose pointing at their Patient entry: review 111). A
left-out entry is kept as ``{}``, so that each entry keeps its place (``Bundle.entry[i]``,
as the answer named the entry at fault). A FHIR copy is never replayed (``replay``): the lab
resends it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from services.lab_ingestion.adapters.fhir_bundle import ParsedBundle
from services.lab_ingestion.adapters.redaction import dump_json
from services.lab_ingestion.domain.model import LabMessage


def copy_without(
    whole: Callable[[], str],
    bundle: ParsedBundle,
    hash_identifier: Callable[[str], str],
    absent: frozenset[int],
) -> str:
    """The copy (``whole``) without the entries of ``bundle``'s messages at the positions
    ``absent`` (their patients not enrolled), nor any other entry that holds the keyed hash of
    one of their numbers and is no other message's."""
    copy = whole()
    try:
        redacted = json.loads(copy)
    except ValueError:
        return copy
    entries = redacted.get("entry") if isinstance(redacted, dict) else None
    if not isinstance(entries, list):
        return copy
    observations = [e for e in bundle.entries if e.message is not None]
    left_out = {observations[i].index for i in absent if 0 <= i < len(observations)}
    others = [e.message for i, e in enumerate(observations) if i not in absent]
    theirs = [observations[i].message for i in absent if 0 <= i < len(observations)]
    hashes = _hashes(theirs, hash_identifier) - _hashes(others, hash_identifier)
    kept = [
        {} if index in left_out or any(h in dump_json(entry) for h in hashes) else entry
        for index, entry in enumerate(entries)
    ]
    own = {e.index for i, e in enumerate(observations) if i not in absent}
    redacted["entry"] = _without_references(entries, kept, own)
    return dump_json(redacted)


def _without_references(entries: list[object], kept: list[object], own: set[int]) -> list[object]:
    """``kept`` without the entries (not one of ``own``, the other messages') that refer to
    the ``fullUrl`` of an entry left out (``{}`` in ``kept``)."""
    gone = {
        json.dumps(entry.get("fullUrl"))  # as a reference to it is written: quoted
        for entry, now in zip(entries, kept, strict=True)
        if now == {} and isinstance(entry, dict) and isinstance(entry.get("fullUrl"), str)
    }
    if not gone:
        return kept
    return [
        {} if index not in own and any(url in dump_json(entry) for url in gone) else entry
        for index, entry in enumerate(kept)
    ]


def _hashes(
    messages: Iterable[LabMessage | None], hash_identifier: Callable[[str], str]
) -> set[str]:
    """The keyed hashes of every number the messages name their patients by."""
    numbers = {
        number
        for m in messages
        if m is not None
        for number in (m.patient_identifier, *(c.value for c in m.identifier_candidates))
        if number
    }
    return {hash_identifier(number) for number in numbers}
