"""A trial result reported final or preliminary without a value (``CLUMPED``, ``TNP``, ``See
comment``, an empty OBX-5, ``Pending``) is read as X ("results cannot be obtained") where
that leaves it out, so that the grade-4 neutrophil count beside it is stored (review 68).

What real senders do: when a count cannot be produced the laboratory still finalises the
panel and reports the component as text with OBX-11 ``F``; in a partial release, ``Pending``
with status ``P`` beside the components already final (Sunquest, Cerner PathNet, Meditech,
Epic Beaker; interface engines pass it on unchanged). It rejected the whole message
(``non-numeric-value``, AE), losing the ANC: nobody resends a final CBC whose platelet text
cannot change.

Never where something could be lost by it: a correction without a value, a message whose
only trial result has none, a key that held anything, a key used twice in the message, and
FHIR are refused as before (the lab is told).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import Coding, LabMessage, ObservationInput
from services.lab_ingestion.domain.unobtained import as_not_obtained
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor, recorded

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _cbc(platelets: str) -> str:
    return (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|CBC-68-2|P|2.5.1\r"
        "PID|1||MRN1^^^HOSP^MR\r"
        "OBR|1|PLC1|FIL1|CBC^Blood count^L|||20261120081512+0100|||||||||||||||"
        "20261120101500+0100|||F\r"
        "OBX|1|NM|NEUT^Neutrophils^L^751-8^Neutrophils^LN||0.3|10*9/L|1.8-7.5|LL|||F|||"
        "20261120081512+0100\r"
        f"{platelets}\r"
        "NTE|1|L|Platelet clumps seen on smear; count not reported. Recollect in citrate.\r"
    )


@pytest.mark.parametrize(
    "platelets",
    [
        pytest.param(
            "OBX|2|ST|PLT^Platelets^L^777-3^Platelets^LN||CLUMPED|||A|||F|||20261120081512+0100",
            id="ST-CLUMPED",
        ),
        pytest.param(
            "OBX|2|ST|PLT^Platelets^L^777-3^Platelets^LN||TNP||||||F|||20261120081512+0100",
            id="ST-TNP",
        ),
        pytest.param(
            "OBX|2|TX|PLT^Platelets^L^777-3^Platelets^LN||See comment||||||F|||20261120081512+0100",
            id="TX-see-comment",
        ),
        pytest.param(
            "OBX|2|NM|PLT^Platelets^L^777-3^Platelets^LN|||10*9/L|||||F|||20261120081512+0100",
            id="NM-empty",
        ),
        # a partial release: the ANC final, the platelet count still pending as P text
        pytest.param(
            "OBX|2|ST|PLT^Platelets^L^777-3^Platelets^LN||Pending||||||P|||20261120081512+0100",
            id="ST-pending-P",
        ),
    ],
)
async def test_a_grade4_anc_is_stored_beside_a_platelet_count_that_could_not_be_made(
    platelets: str,
) -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    lab, _ = parse_oru(_cbc(platelets), identify=lambda s: f"h({s})")
    (outcome,) = await ingestor(db)(
        [IngestLabMessage(lab, lambda: "", RECEIVED - timedelta(hours=1))]
    )
    emitted = [value for _, value, _ in recorded(db)]
    assert 0.3 in emitted, (
        f"the grade-4 ANC was not stored: answered accepted={outcome.accepted} "
        f"code={outcome.code} reason={outcome.reason!r}"
    )


def _ingest(db: FakeDatabase, text: str) -> Any:
    lab, _ = parse_oru(text, identify=lambda s: f"h({s})")
    return ingestor(db)([IngestLabMessage(lab, lambda: "", RECEIVED - timedelta(hours=1))])


CLUMPED = "OBX|2|ST|PLT^Platelets^L^777-3^Platelets^LN||CLUMPED|||A|||F|||20261120081512+0100"


async def test_the_ack_counts_the_stored_result_only() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    (outcome,) = await _ingest(db, _cbc(CLUMPED))
    assert (outcome.accepted, outcome.results, outcome.cancelled) == (True, 1, 0)
    assert [r.result.analyte.value for r in db.results] == ["neutrophils"]


async def test_a_message_whose_only_trial_result_has_no_value_is_refused() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    alone = _cbc(CLUMPED).replace(
        "OBX|1|NM|NEUT^Neutrophils^L^751-8^Neutrophils^LN",
        "OBX|1|NM|WBC^White cells^L^6690-2^WBC^LN",
    )
    (outcome,) = await _ingest(db, alone)
    assert not outcome.accepted  # refused as before (the lab is told)
    assert db.results == []


async def test_a_correction_without_a_value_of_a_stored_count_is_refused() -> None:
    """Platelets 150 stand under the key: a ``C`` without a value may mean the 150 is void;
    the lab is told, the 150 stays (never withdrawn by a text)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    counted = CLUMPED.replace("||CLUMPED|||A|", "||150|10*9/L|150-400||")
    await _ingest(db, _cbc(counted))
    corrected = CLUMPED.replace("|||F|||", "|||C|||")
    (outcome,) = await _ingest(db, _cbc(corrected).replace("CBC-68-2", "CBC-68-4"))
    assert not outcome.accepted
    standing = db.standing("LIS^HOSP", db.results[1].result_key)
    assert standing is not None and standing.result.value == 150.0


async def test_a_correction_without_a_value_under_an_unused_key_changes_nothing() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    corrected = CLUMPED.replace("|||F|||", "|||C|||")
    (outcome,) = await _ingest(db, _cbc(corrected))
    assert outcome.accepted and outcome.results == 1
    assert [r.result.analyte.value for r in db.results] == ["neutrophils"]


async def test_a_key_that_held_a_result_is_refused_not_withdrawn() -> None:
    """Platelets 150 were final under the key; a final ``CLUMPED`` under it contradicts the
    stored value: the lab is told, the 150 stays (never withdrawn by a text)."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    counted = CLUMPED.replace("||CLUMPED|||A|", "||150|10*9/L|150-400||")
    (first,) = await _ingest(db, _cbc(counted))
    assert first.accepted and first.results == 2
    (outcome,) = await _ingest(db, _cbc(CLUMPED).replace("CBC-68-2", "CBC-68-3"))
    assert not outcome.accepted
    standing = db.standing("LIS^HOSP", db.results[1].result_key)
    assert standing is not None and standing.result.value == 150.0


async def test_a_key_used_twice_in_the_message_is_refused() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    twice = _cbc(CLUMPED) + CLUMPED.replace("OBX|2|", "OBX|3|") + "\r"
    (outcome,) = await _ingest(db, twice)
    assert not outcome.accepted
    assert db.results == []


async def test_a_text_holding_a_number_stays_refused() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    (outcome,) = await _ingest(db, _cbc(CLUMPED.replace("CLUMPED", "<10")))
    assert not outcome.accepted
    assert db.results == []


async def test_resent_under_a_new_id_it_is_a_duplicate() -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    await _ingest(db, _cbc(CLUMPED))
    (again,) = await _ingest(db, _cbc(CLUMPED).replace("CBC-68-2", "CBC-68-9"))
    assert again.accepted and again.duplicate
    assert len(db.results) == 1


_CODES = st.sampled_from([("1988-5", "http://loinc.org"), ("777-3", "http://loinc.org"),
                          ("6690-2", "http://loinc.org")])  # fmt: skip
_OBSERVATIONS = st.builds(
    lambda key, code, value, status: ObservationInput(
        key, (Coding(*code),), value, ("mg/L",), status=status
    ),
    st.sampled_from(["K1", "K2", "K3"]),
    _CODES,
    st.sampled_from(["", "CLUMPED", "12", "<5", "See comment", "1,5"]),
    st.sampled_from(list("FCPXDRSIN")),
)


@settings(max_examples=400)
@given(
    observations=st.lists(_OBSERVATIONS, max_size=5),
    channel=st.sampled_from(list(Channel)),
    held=st.frozensets(st.sampled_from(["K1", "K2", "K3"])),
)
def test_only_results_without_a_value_under_unused_keys_are_read_as_x(
    observations: list[ObservationInput], channel: Channel, held: frozenset[str]
) -> None:
    message = LabMessage(channel, "LIS", "HOSP", "M-1", "MRN1", tuple(observations))
    read, keys = as_not_obtained(message, lambda key: key[1] not in held)
    changed = [i for i, (a, b) in enumerate(zip(observations, read.observations, strict=True))
               if a != b]  # fmt: skip
    assert sorted(keys) == sorted(("LIS^HOSP", observations[i].result_key) for i in changed)
    trial = [o for o in observations if o.codes[0].code != "6690-2" and o.status not in "ION"]
    kept = [o for i, o in enumerate(observations) if i not in changed and o in trial]
    acting = any(
        (o.status in "FCPRS" and any(c.isdigit() for c in o.value))
        or (o.status in "XDW" and o.result_key in held)
        for o in kept
    )
    for index in changed:
        before, after = observations[index], read.observations[index]
        assert after == replace(before, status="X", read_as_not_obtained=True)
        assert (before.status in "FCPRS" and not any(c.isdigit() for c in before.value)) or (
            before.status in "XDW"
        )
        assert before in trial and before.result_key not in held
        assert sum(o.result_key == before.result_key for o in trial) == 1
    if changed:
        assert acting, "read as X although nothing else of the message acts"
    if channel is Channel.FHIR:
        assert read == message and keys == ()
