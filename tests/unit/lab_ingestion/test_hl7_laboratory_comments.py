"""NTE segments: which results a laboratory commented on (``hl7_notes``), never what it wrote.

"Platelet clumps seen" after a platelet count (falsely low: it would grade and hold a dose)
or "Sample haemolysed" after an order was dropped: consumers acted on the value without
knowing the laboratory had commented. The text is not carried (it may name anyone); each
result says whether a comment concerns it (``laboratory_comment``)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru, redact
from services.lab_ingestion.domain.model import LabMessage, NormalisedResult
from services.lab_ingestion.domain.normalise import normalise
from tests.unit.lab_ingestion.hl7_samples import FAST, fake_hash

HEADER = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|NTE-1|P|2.5.1"
PID = "PID|1||123456^^^HOSP^MR||DOE^JOHN"
TIME = "20261120081512+0100"
PLATELETS, CRP, NEUTROPHILS = "777-3^Platelets^LN", "1988-5^CRP^LN", "751-8^ANC^LN"


def obr(order: str = "FIL1") -> str:
    return f"OBR|1|PLC-{order}|{order}|PANEL^Panel^L|||{TIME}"


def obx(code: str = PLATELETS, value: str = "45", unit: str = "10*9/L", sub_id: str = "") -> str:
    return f"OBX|1|NM|{code}|{sub_id}|{value}|{unit}|||||F|||{TIME}"


def nte(text: str) -> str:
    return f"NTE|1|L|{text}"


def read(*segments: str) -> LabMessage:
    message, _ = parse_oru("\r".join([HEADER, *segments]) + "\r", identify=fake_hash)
    return message


def comments(*segments: str) -> list[bool]:
    return [o.laboratory_comment for o in read(*segments).observations]


def test_a_note_after_a_result_concerns_that_result_alone() -> None:
    flags = comments(
        PID, obr(), obx(PLATELETS), nte("Platelet clumps seen"), obx(CRP, "12", "mg/L")
    )
    assert flags == [True, False]


def test_a_note_after_an_order_concerns_every_result_of_that_order() -> None:
    flags = comments(
        PID, obr("FIL1"), nte("Sample haemolysed"), obx(PLATELETS), obx(CRP, "12", "mg/L"),
        obr("FIL2"), obx(NEUTROPHILS, "1.2"),
    )  # fmt: skip
    assert flags == [True, True, False]


def test_a_note_after_the_specimen_concerns_its_orders_results() -> None:
    flags = comments(
        PID, obr("FIL1"), obx(PLATELETS), "SPM|1|||BLD", nte("Clotted"), obr("FIL2"), obx(CRP)
    )
    assert flags == [True, False]


def test_a_note_without_text_is_no_comment() -> None:
    """Blank, HL7's explicit null, formatting or highlighting escapes alone, no NTE-3 at
    all, a source (NTE-2) alone: nothing was written for anyone to read."""
    empty = [
        "NTE|1|L|", 'NTE|1|L|""', "NTE|1||\\.br\\", "NTE|1", "NTE|1|L", "NTE|1||^~&",
        "NTE|1||   ", "NTE|1||\\.sp9999\\\\.in+x\\", "NTE|1||\\H\\ \\N\\",
    ]  # fmt: skip
    assert comments(PID, nte(""), obr(), nte(""), obx(), *empty) == [False]


def test_text_in_any_repetition_or_component_or_any_other_escape_is_a_comment() -> None:
    """An escape that stands for a character, readable or not, was written for a reader;
    none of them costs the message its results (the note is never unescaped: python-hl7
    raises on some, ``\\.in+x\\`` among text, and logs the field around others)."""
    notes = [
        "~see report", "^clumps", "&clumps", "\\H\\CLUMPS\\N\\", "\\F\\", "\\X41\\",
        "\\Xzz\\", "\\Z12\\", "clumps \\.in+x\\", "\\C2842\\",
    ]  # fmt: skip
    for note in notes:
        assert comments(PID, obr(), obx(), nte(note)) == [True], note


def test_a_note_about_the_patient_before_any_order_concerns_every_result() -> None:
    """HL7's PATIENT group note (after PID, before any ORC or OBR): the laboratory wrote it
    into this report; the platform cannot tell what it says, so no result goes unflagged."""
    flags = comments(
        PID, nte("Patient on heparin"), "PV1|1|O", obr("FIL1"), obx(PLATELETS),
        obr("FIL2"), obx(CRP, "12", "mg/L"),
    )  # fmt: skip
    assert flags == [True, True]
    assert comments(nte("before the patient"), PID, obr(), obx()) == [True]


def test_a_note_after_an_orc_concerns_the_order_it_opens() -> None:
    """An ORC precedes its OBR: a note between them is about that order, not the results
    of the order before."""
    flags = comments(
        PID, "ORC|RE|PLC-FIL1|FIL1", obr("FIL1"), obx(PLATELETS),
        "ORC|RE|PLC-FIL2|FIL2", nte("Sample haemolysed"), obr("FIL2"), obx(CRP, "12", "mg/L"),
    )  # fmt: skip
    assert flags == [False, True]


def test_several_results_each_with_their_own_notes() -> None:
    flags = comments(
        PID, obr(),
        obx(PLATELETS, sub_id="1"), nte("Platelet clumps seen"), nte("Repeat requested"),
        obx(CRP, "12", "mg/L", sub_id="2"),
        obx(NEUTROPHILS, "1.2", sub_id="3"), nte(""),
        obx("2345-7^Glucose^LN", "5", "mmol/L", sub_id="4"), nte("fasting"),
        obx(PLATELETS, sub_id="5"), "ZXX|1|site data", nte("still the fifth"),
    )  # fmt: skip
    assert flags == [True, False, False, True, True]


def test_the_notes_text_is_nowhere_in_what_is_read() -> None:
    message = read(PID, obr(), nte("Sample of HUBERMANN"), obx(), nte("Clumps, call Dr WHO"))
    assert message.observations[0].laboratory_comment
    assert "HUBERMANN" not in repr(message)
    assert "WHO" not in repr(message)


def test_a_kept_copy_reads_back_with_the_same_comments() -> None:
    """A rejection's redacted copy keeps every NTE, its text scrubbed but never emptied: a
    replay reads the same flags (they are in the content digest the replay checks)."""
    text = "\r".join([
        HEADER, PID, obr(), nte("DOE JOHN"), obx(PLATELETS, sub_id="1"), nte("DOE"),
        obx(CRP, "12", "mg/L", sub_id="2"), nte(""),
    ]) + "\r"  # fmt: skip
    copy, _ = parse_oru(redact(text, fake_hash), identify=fake_hash)
    original, _ = parse_oru(text, identify=fake_hash)
    assert [o.laboratory_comment for o in copy.observations] == [True, True]
    assert [o.laboratory_comment for o in original.observations] == [True, True]
    assert "DOE" not in redact(text, fake_hash)


_NOTE = st.sampled_from(["", '""', "Platelet clumps seen", "Sample haemolysed", "\\.br\\"])
_COMMENTED = frozenset({"Platelet clumps seen", "Sample haemolysed"})


@FAST
@given(
    patient_note=st.none() | _NOTE,
    orders=st.lists(
        st.tuples(
            st.none() | _NOTE,  # the order's note
            st.lists(st.none() | _NOTE, min_size=1, max_size=4),  # each result's note
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_each_result_is_flagged_when_a_note_with_text_concerns_it(
    patient_note: str | None, orders: list[tuple[str | None, list[str | None]]]
) -> None:
    segments = [PID] if patient_note is None else [PID, nte(patient_note)]
    expected = []
    for number, (order_note, result_notes) in enumerate(orders):
        segments.append(obr(f"FIL{number}"))
        if order_note is not None:
            segments.append(nte(order_note))
        for index, note in enumerate(result_notes):
            segments.append(obx(sub_id=str(index)))
            if note is not None:
                segments.append(nte(note))
            expected.append(
                patient_note in _COMMENTED or order_note in _COMMENTED or note in _COMMENTED
            )
    assert comments(*segments) == expected


def test_a_normalised_result_keeps_whether_it_was_commented() -> None:
    noted, plain = read(PID, obr(), obx(sub_id="1"), nte("Clumps"), obx(sub_id="2")).observations
    commented, uncommented = normalise(noted), normalise(plain)
    assert isinstance(commented, NormalisedResult) and isinstance(uncommented, NormalisedResult)
    assert (commented.laboratory_comment, uncommented.laboratory_comment) == (True, False)


@FAST
@given(text=st.text(alphabet=st.characters(blacklist_characters="\r\n|\x00"), max_size=40))
def test_no_note_costs_the_message_its_results_or_changes_what_they_say(text: str) -> None:
    """Whatever an NTE-3 holds (escapes broken or not, separators), the message is read as
    without it but for the flag."""
    plain = read(PID, obr(), obx())
    noted = read(PID, obr(), obx(), nte(text))
    assert replace(noted.observations[0], laboratory_comment=False) == plain.observations[0]
