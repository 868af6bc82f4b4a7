"""Review 233's cases in the copy rule between a lab's HL7 and FHIR feeds (task 239;
``withdrawn_chains.withdrew_preliminary``, ``copy_outcomes.held_elsewhere``):

D-A. a correction or withdrawal finding, of the patient's, only their withdrawn preliminary
     under its key acts on that chain (a resent withdrawal a duplicate, a correction told it
     was withdrawn: the chain checks' answers) unless the other feed's final or corrected
     result of the sample stands, stored or planned earlier in the batch (fixer 231's D5:
     then refused naming that sender, a correction saying its value its duplicate). The
     other feed's preliminary, standing or withdrawn, never turns that answer off;
D-C. so an X there beside the other feed's withdrawn preliminary is not counted as held by
     another sender."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.domain.copies_elsewhere import StoredElsewhere
from services.lab_ingestion.domain.copy_outcomes import held_elsewhere, says_again
from services.lab_ingestion.domain.model import LabMessage, Rejected
from services.lab_ingestion.domain.records import Sender
from services.lab_ingestion.domain.withdrawn_chains import finds_no_chain, withdrew_preliminary
from services.lab_ingestion.service_layer.batch_context import BatchContext
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_copies_fix223 import _version
from tests.unit.lab_ingestion.test_copies_review202 import (
    FHIR_KEY,
    HL7_KEY,
    ORD7,
    STORED_KEYS,
    TWELVE,
    _crp,
    _held,
    _planned,
)

STATUSES = ["F", "C", "P", "W", "D", "X"]
CHANGES = ["C", "W", "D", "X"]
SUBJECTS = ["S-1", "S-2"]
OTHER_KEY = (HL7_KEY[0], "ORD7|1988-5|2")


@given(
    st.sampled_from(STATUSES),
    st.sets(st.tuples(st.sampled_from(SUBJECTS), st.booleans())),
    st.booleans(),
)
def test_a_change_finds_only_the_patients_withdrawn_preliminary(
    status: str, versions: set[tuple[str, bool]], elsewhere: bool
) -> None:
    """For S-1's change: some withdrawn version of theirs under its key, none of them final
    or corrected (those are the chain's: ``finds_no_chain``); another patient's never
    counts, another key's rows neither; a final result is never such a change."""
    key = OTHER_KEY if elsewhere else HL7_KEY
    withdrawn = {key: frozenset(_version(s, TWELVE if final else None) for s, final in versions)}
    found = withdrew_preliminary(HL7_KEY, status, "S-1", withdrawn)
    own = {final for s, final in versions if s == "S-1"}
    assert found is (status != "F" and not elsewhere and own == {False})
    if found:  # the copy rule looks at the other feed for it (fixer 231's D5)
        assert finds_no_chain(HL7_KEY, status, "S-1", {}, withdrawn)


def _change(key: tuple[str, str], status: str, stored: StoredElsewhere, *,
            planned: bool, withdrew: bool = True) -> Rejected | frozenset[int]:  # fmt: skip
    """S-1's change under ``key`` (finding only their withdrawn preliminary there: ``withdrew``)
    through the real check; ``planned``: the other feed's final 12 earlier in the batch."""
    other = HL7_KEY if key == FHIR_KEY else FHIR_KEY
    channel = Channel.FHIR if key == FHIR_KEY else Channel.MLLP
    application, facility = key[0].split("^")
    message = LabMessage(channel, application, facility, "M-1", "MRN1", (_crp(key, status),))
    batch = [(_planned(other), "fhir" if other == FHIR_KEY else "mllp", None)] if planned else []
    return held_elsewhere(
        message, "S-1", stored, lambda *_: True, planned=batch, parts_of=lambda _: ORD7,
        said_of=lambda _: TWELVE, withdrew_preliminary=lambda *_: withdrew,
    )  # fmt: skip


@given(
    st.sampled_from(CHANGES),
    st.booleans(),
    st.sets(st.sampled_from(["P", "F", "C"])),
    st.sets(st.sampled_from(["P", "F"])),
    st.booleans(),
)
def test_the_withdrawn_preliminary_is_the_chain_unless_the_other_feed_published(
    status: str, fhir: bool, standing: set[str], gone: set[str], planned: bool
) -> None:
    """Over either feed (``fhir``: the change is FHIR's, the other feed HL7): the other
    feed's standing results of the sample (``standing``), withdrawn ones (``gone``) and its
    final planned earlier in the batch (``planned``). Only a standing final or corrected
    one makes the change the other feed's (refused naming it, or a correction saying 12
    left out as its duplicate); else nothing is refused or counted as held elsewhere."""
    key, other = (FHIR_KEY, HL7_KEY) if fhir else (HL7_KEY, FHIR_KEY)
    stored = StoredElsewhere(
        {"S-1": [_held(other, s) for s in sorted(standing)]}, STORED_KEYS,
        {"S-1": [_held(other, s) for s in sorted(gone)]},
    )  # fmt: skip
    found = _change(key, status, stored, planned=planned)
    if planned or standing & {"F", "C"}:
        assert found != frozenset(), found
        if isinstance(found, Rejected):
            assert repr(other[0]) in found.reason, found.reason
    else:
        assert found == frozenset(), found
    # without the patient's withdrawn preliminary, the other feed's preliminary alone is
    # still what a change with nothing of its own may be meant for (unchanged)
    if standing == {"P"} and not gone and not planned:
        assert isinstance(_change(key, status, stored, planned=False, withdrew=False), Rejected)


def test_the_batch_context_tells_the_patients_withdrawn_preliminary() -> None:
    context = BatchContext({("LIS", "HOSP"): Sender()}, {}, {}, {})
    assert not context.withdrew_preliminary(HL7_KEY, "W", "S-1")
    context.withdrawn_versions[HL7_KEY] = frozenset({_version("S-1")})
    for status in CHANGES:
        assert context.withdrew_preliminary(HL7_KEY, status, "S-1"), status
    assert not context.withdrew_preliminary(HL7_KEY, "F", "S-1")
    assert not context.withdrew_preliminary(HL7_KEY, "W", "S-2")  # another patient's
    assert not context.withdrew_preliminary(FHIR_KEY, "W", "S-1")
    context.withdrawn_versions[HL7_KEY] |= {_version("S-1", TWELVE)}
    assert not context.withdrew_preliminary(HL7_KEY, "W", "S-1")  # their final: the chain's


@given(
    st.sampled_from(["W", "D", "X"]),
    st.lists(st.sampled_from(["P", "F", "C"]), max_size=3),
    st.lists(st.sampled_from(["P", "F"]), max_size=2),
)
def test_a_withdrawal_repeats_only_a_withdrawn_published_result(
    status: str, gone: list[str], planned: list[str]
) -> None:
    """With nothing standing over the other feed and nothing of its own: a withdrawal is a
    duplicate only where that feed withdrew a final or corrected result of the sample
    (stored, or earlier in the batch); a withdrawn preliminary alone was never published
    (review 233, D-C: counted as "held by another sender")."""
    observation = _crp(HL7_KEY, status)
    withdrawn = [_held(FHIR_KEY, s) for s in gone]
    in_batch = [replace(_planned(FHIR_KEY, withdrawn=True), status=s) for s in planned]
    found = says_again(observation, None, [], withdrawn, [], withdrawn_in_batch=in_batch)
    assert found is bool({"F", "C"} & {*gone, *planned})
