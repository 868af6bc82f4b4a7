"""HL7 messages through the real acknowledger and the real service layer (``BatchIngestor``),
against the hand-written in-memory database of ``test_batch_ingestor``.

Whatever a lab sends, the answer is about the message: AA, AE or AR for what it says. Never
"temporary internal error; nothing was stored, resend" (a crash while planning or normalising
is answered so, and the lab resends the same message forever), and never a parser crash
answered as a rejection (``test_hl7_flow.PARSER_CRASHES``).

The messages are built from a valid report and varied field by field, mostly with values a
lab does send, so that results are stored as often as they are refused (counted, and both
asserted at the end).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import event, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestOutcome,
    RecordRejectedInput,
)
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_batch_ingestor import FakeDatabase, ingestor
from tests.unit.lab_ingestion.test_hl7_flow import PARSER_CRASHES, timestamps

# the units each analyte is sent in (``analytes.UNIT_SPELLINGS``; 10^9/L escaped), with a
# range of values a patient has in that unit and the decimals a lab writes there
UNITS: dict[str, tuple[tuple[str, int, int, int], ...]] = {
    "1988-5": (("mg/L", 1, 300, 1), ("mg/dL", 1, 30, 2), ("nmol/L", 10, 2000, 0)),  # CRP
    "751-8": (("10*9/L", 1, 20, 1), ("10\\S\\9/L", 1, 20, 2), ("G/L", 1, 20, 1),
              ("10*3/uL", 1, 20, 1), ("/uL", 500, 20000, 0)),  # neutrophils
    "777-3": (("10*9/L", 20, 900, 0), ("10*3/uL", 20, 900, 0),
              ("/uL", 20000, 900000, 0)),  # platelets
    "718-7": (("g/dL", 6, 18, 1), ("g/L", 60, 180, 0), ("mmol/L", 4, 11, 1)),  # haemoglobin
    "1742-6": (("U/L", 5, 500, 0), ("ukat/L", 1, 8, 2)),  # ALT
    "1920-8": (("U/L", 5, 500, 0), ("IU/L", 5, 500, 0)),  # AST
    "1975-2": (("mg/dL", 1, 20, 1), ("umol/L", 3, 300, 0)),  # bilirubin
    "2160-0": (("mg/dL", 1, 10, 2), ("umol/L", 30, 900, 0)),  # creatinine
}  # fmt: skip
NOT_TRIAL = "2345-7"  # glucose: ignored
# what a lab, or a broken interface, writes in a field instead
ODD = {
    "code": ("", "^^LN", "1988-5^CRP^LN~751-8^ANC^LN", "1988-5^CRP^L", "\\.br\\"),
    "sub_id": ("a", "1~2", "\\T\\"),
    "value": ("", "1,234", "12,500", "1,5", "<5", ">200", "-1", "abc", "1.2.3", "12 mg", "1e3",
              "\\.br\\", "5~6", "0", "999999", "1.234", "12^3", "00012", " 7 "),
    "unit": ("", "furlongs", "mg/L^^UCUM", "^^^mg/L^^L", "10*9/L^^UCUM", "%", "mg/L~g/L"),
    "value_type": ("", "SN", "ST", "TX", "CE", "XYZ"),
    "reference": ("<5", "3.5-7.0 x", "-", "5-1", "0-5 mg/L", "M: 0-5 F: 0-6"),
    "flag": ("H", "L", "N", "<", ">", "HH", "A~H"),
    "status": ("C", "P", "X", "D", "W", "R", "S", "I", "U", "Z", "", "f"),
    "obx14": (),  # drawn by ``times(odd=True)``
    "obr7": (),
    "mrn": ("MRN9", "", "MRN1~MRN9", "\\.br\\"),
}  # fmt: skip
# which field is written otherwise: the value most often (where labs write the most)
FIELDS = (*sorted(ODD), "value", "value", "value", "unit")
ORDERS = ("ORD1", "ORD2")  # few: results of later messages meet the earlier ones
EARLIEST = datetime(2026, 11, 1, tzinfo=UTC)


@st.composite
def times(draw: st.DrawFn, odd: bool = False) -> str:
    """A plausible collection time (November 2026, at an offset); ``odd``: any time, or an
    unusable or hostile one (``test_hl7_flow.timestamps``)."""
    if not odd:
        instant = EARLIEST + timedelta(minutes=draw(st.integers(0, 29 * 24 * 60)))
        hours = draw(st.integers(-12, 14))
        local = instant + timedelta(hours=hours)
        return f"{local:%Y%m%d%H%M}{'+' if hours >= 0 else '-'}{abs(hours):02d}00"
    return draw(timestamps(hostile=True))[0]


@st.composite
def observation(draw: st.DrawFn, index: int, odd: str | None) -> dict[str, str]:
    """One OBX's fields, valid but for the field named ``odd``."""
    code = draw(st.sampled_from([*UNITS, NOT_TRIAL]))
    unit, low, high, places = draw(st.sampled_from(UNITS.get(code, (("mg/dL", 1, 300, 0),))))
    number = draw(st.integers(low * 10**places, high * 10**places))
    fields = {
        "code": f"{code}^Test^LN",
        "sub_id": draw(st.sampled_from(["", "1"])),
        "value": f"{number / 10**places:.{places}f}",
        "unit": unit,
        "value_type": "NM",
        "reference": draw(st.sampled_from(["", f"{low}-{high}"])),
        "flag": draw(st.sampled_from(["", "N"])),
        "status": draw(st.sampled_from(["F", "F", "F", "F", "P"])),
        "obx14": draw(times()) if draw(st.booleans()) else "",  # else OBR-7's
    }
    if odd in fields:
        fields[odd] = draw(times(odd=True) if odd == "obx14" else st.sampled_from(ODD[odd]))
    return fields


def obx(index: int, f: dict[str, str]) -> str:
    return (
        f"OBX|{index}|{f['value_type']}|{f['code']}|{f['sub_id']}|{f['value']}|{f['unit']}|"
        f"{f['reference']}|{f['flag']}|||{f['status']}|||{f['obx14']}"
    )


@st.composite
def reports(draw: st.DrawFn, control_id: str) -> str:
    """One ORU^R01 of LIS^HOSP (the fake database's allowed sender) about the enrolled
    MRN1; in two of three, one field of one segment is written otherwise."""
    odd = draw(st.sampled_from(FIELDS)) if draw(st.integers(0, 2)) else None
    mrn = draw(st.sampled_from(ODD["mrn"])) if odd == "mrn" else "MRN1"
    segments = [
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261201091500+0000||ORU^R01|{control_id}|P|2.5.1",
        f"PID|1||{mrn}^^^HOSP^MR||DOE^JANE||19600101|F",
    ]
    groups = draw(st.integers(1, 2))
    sizes = [draw(st.integers(1, 3)) for _ in range(groups)]
    odd_at = draw(st.integers(1, sum(sizes)))  # the OBX whose field is written otherwise
    index = 0
    for group, size in enumerate(sizes, 1):
        obr7 = draw(times(odd=odd == "obr7" and group == 1))
        segments.append(f"OBR|{group}||{draw(st.sampled_from(ORDERS))}|CBC^Panel^L|||{obr7}")
        for _ in range(size):
            index += 1
            segments.append(obx(index, draw(observation(index, odd if index == odd_at else None))))
    return "\r".join(segments) + "\r"


async def answers(texts: list[str]) -> list[tuple[str, str, bool, Command]]:
    """Each message's ACK code and text, whether it was answered as a transient failure, and
    the command the service layer was handed: one database, messages one after another."""
    db = FakeDatabase(enrolled={"h(MRN1)": "S-1"})
    ingest = ingestor(db)
    handed: list[Command] = []

    async def submit(command: Command) -> IngestOutcome:
        handed.append(command)
        (outcome,) = await ingest([command])
        return outcome

    acknowledger = Hl7Acknowledger(
        submit, lambda identifier: f"h({identifier})", LabIngestionMetrics(CollectorRegistry())
    )
    found = []
    for text in texts:
        code, ack, transient = await acknowledger.acknowledge_outcome(text.encode(), Channel.MLLP)
        msa = next(s for s in ack.split("\r") if s.startswith("MSA|")).split("|")
        found.append((code, msa[3], transient, handed[-1]))
    return found


def test_no_message_is_answered_as_an_internal_error() -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=300, deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        count = data.draw(st.integers(1, 4))
        texts = [data.draw(reports(f"C{n}")) for n in range(count)]
        for code, text, transient, command in asyncio.run(answers(texts)):
            assert not transient, text  # a crash of the service layer, resent forever
            if isinstance(command, RecordRejectedInput):
                assert not command.reason.startswith(PARSER_CRASHES), command.reason
            stored = code == "AA" and "result(s) stored" in text and not text.startswith(
                "accepted; 0 "
            )  # fmt: skip
            kind = "stored" if stored else "accepted" if code == "AA" else f"refused {code}"
            event(kind)
            seen[kind] += 1

    check()
    # both branches are reached, not only refusals: the property says something of each
    assert seen["stored"] >= 30, seen
    assert seen["refused AE"] >= 30, seen
