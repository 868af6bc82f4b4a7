"""Review 73: a qualitative result that merely *mentions* a "not obtained" phrase is left out,
answered AA, beside another result of the message.

What goes wrong: ``unobtained.says_not_obtained`` uses ``_NOT_OBTAINED.search``: any value
without a digit in which one of the phrases occurs *anywhere* is read as "could not be
obtained". Review 72 (3b08952) made ``NONE SEEN`` / ``NIL`` (a neutrophil count of zero,
CTCAE grade 4) refused ``non-numeric-value``, so the lab is told and resends it as ``0``.
But the same result written the way smear-review texts usually are, with a pointer to the
comment or a follow-up (``NONE SEEN - see comment``, ``NIL (pathologist review pending)``,
``Absent; unable to confirm``, ``Severe neutropenia, formal count to follow``, ``CRITICAL
LOW - see note``), contains ``see comment`` / ``pending`` / ``unable to ...`` / ``to
follow``: ``as_not_obtained`` reads it as X and, because the platelet count beside it has a
value, leaves it out. The message is answered AA with only the platelets stored: the lab
believes it delivered the ANC, the platform never records the grade-4 neutropenia and
raises no alert. The phrase qualifies a result; it does not say there is none.

What should happen: as for ``NONE SEEN`` alone (refused, ``non-numeric-value``, AE): a
value is read as not obtained only when it says nothing else (the whole text is one of the
phrases, give or take punctuation), never when other words carry a finding.

Suggested fix: ``_NOT_OBTAINED.fullmatch`` on the stripped value (allowing separators
between several such phrases, e.g. ``CLUMPED - see comment``), not ``search``; any other
text stays refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.service_layer.commands import IngestLabMessage, IngestOutcome
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor

RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _cbc(anc: str) -> str:
    return (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|CBC-TXT|P|2.5.1\r"
        "PID|1||MRN1^^^HOSP^MR\r"
        "OBR|1|PLC1|FIL1|CBC^Blood count^L|||20261120081512+0100\r"
        f"OBX|1|ST|NEUT^Neutrophils^L^751-8^Neutrophils^LN||{anc}|10*9/L|1.8-7.5|LL|||F|||"
        "20261120081512+0100\r"
        "OBX|2|NM|PLT^Platelets^L^777-3^Platelets^LN||150|10*9/L|150-400||||F|||"
        "20261120081512+0100\r"
    )


async def _outcome_and_stored(anc: str) -> tuple[IngestOutcome, list[str]]:
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    lab, _ = parse_oru(_cbc(anc), identify=lambda s: f"h({s})")
    (outcome,) = await ingestor(db)(
        [IngestLabMessage(lab, lambda: "", RECEIVED - timedelta(hours=1))]
    )
    return outcome, sorted(r.result.analyte.value for r in db.results if r.result is not None)


@pytest.mark.parametrize("anc", ["NONE SEEN", "NIL", "ABSENT"])
async def test_an_anc_written_in_words_is_refused_never_left_out(anc: str) -> None:
    """Review 72: a neutrophil count written NONE SEEN (zero: grade 4) was read as "could
    not be obtained", left out and answered AA beside the platelets: the lab believed it had
    delivered the ANC, no alert was raised."""
    outcome, stored = await _outcome_and_stored(anc)
    assert not outcome.accepted and stored == []


@pytest.mark.parametrize(
    "anc",
    [
        "NONE SEEN - see comment",
        "NIL (pathologist review pending)",
        "Absent; unable to confirm",
        "Severe neutropenia, formal count to follow",
        "CRITICAL LOW - see note",
    ],
)
async def test_a_qualitative_anc_mentioning_a_phrase_is_never_acknowledged_and_dropped(
    anc: str,
) -> None:
    outcome, stored = await _outcome_and_stored(anc)
    assert not (outcome.accepted and "neutrophils" not in stored), (
        f"ANC {anc!r} (a finding: no / critically few neutrophils) was answered accepted "
        f"({outcome}) and left out, only {stored} stored: the phrase inside it was read as "
        "'could not be obtained' (search, not a whole-value match); 'NONE SEEN' alone is "
        "refused"
    )
