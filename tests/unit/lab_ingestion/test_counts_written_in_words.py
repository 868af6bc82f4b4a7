"""Review 72: a neutrophil count reported in words ("NONE SEEN") is left out, answered AA.

(Introduced by 7b9591f, before the reviewed range; 0821820 extends the same reading to
``C``. Fails on 2564636 and on HEAD.)

What goes wrong: ``unobtained.holds_no_value`` takes any trial result reported F/P/C whose
value holds no digit for a count the laboratory could not make, and ``as_not_obtained``
reads it as X, leaving it out (nothing stored, nothing published) when another result of
the message has a value. But a value without a digit is not always "no result": a manual
differential of a profoundly neutropenic patient is reported ``NONE SEEN`` / ``NIL`` /
``ABSENT`` (an ANC of zero, CTCAE grade 4), a CRP below detection ``NEGATIVE``. Before
commit 7b9591f (and still for a message with nothing else) such a value was refused
``non-numeric-value`` (AE): the lab was told and resends it as a number (``0``). Now the
message is answered AA: the lab believes the ANC was delivered, the platform stored only
the platelet count beside it, and no grade-4 neutropenia alert is ever raised for the
subject.

What should happen: only texts that say the result could not be obtained (``CLUMPED``,
``TNP``, ``QNS``, empty, ...) are read as X; any other text in a trial result's value is
refused as before (AE, ``non-numeric-value``), so nothing the lab reported is lost while
acknowledged.

Suggested fix: read as X only an empty OBX-5 or a text from a list of "not obtained"
phrases (or HL7 OBX-11 itself); refuse other digit-less text (or at least "none seen",
"nil", "absent", "negative", "not detected", "zero").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _cbc(anc: str) -> str:
    return (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|CBC-NIL|P|2.5.1\r"
        "PID|1||MRN1^^^HOSP^MR\r"
        "OBR|1|PLC1|FIL1|CBC^Blood count^L|||20261120081512+0100\r"
        f"OBX|1|ST|NEUT^Neutrophils^L^751-8^Neutrophils^LN||{anc}|10*9/L|1.8-7.5|LL|||F|||"
        "20261120081512+0100\r"
        "OBX|2|NM|PLT^Platelets^L^777-3^Platelets^LN||150|10*9/L|150-400||||F|||"
        "20261120081512+0100\r"
    )


@pytest.mark.parametrize("anc", ["NONE SEEN", "NIL", "ABSENT"])
async def test_an_anc_reported_as_none_seen_is_never_acknowledged_and_dropped(anc: str) -> None:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    lab, _ = parse_oru(_cbc(anc), identify=lambda s: f"h({s})")
    (outcome,) = await ingestor(db)(
        [IngestLabMessage(lab, lambda: "", RECEIVED - timedelta(hours=1))]
    )
    stored = sorted(r.result.analyte.value for r in db.results if r.result is not None)
    assert not (outcome.accepted and "neutrophils" not in stored), (
        f"ANC {anc!r} (no neutrophils seen: grade 4) was answered accepted ({outcome}) and "
        f"left out; stored only {stored}: the lab believes it delivered the ANC, no alert"
    )
