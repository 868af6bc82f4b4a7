"""Lines and documents in a rejected HL7 message's kept copy (``hl7_kept_lines``): a person
segment after leading Unicode blanks or format characters is redacted as that segment, a
line that is no segment is the rest of the person segment before it (or ``[redacted]``),
and an encoded document or a pointer in a result keeps only its codes."""

from __future__ import annotations

import base64

import pytest

from services.lab_ingestion.adapters.hl7_redaction import redact

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1"
PID = "PID|1||MRN4711^^^HOSP^MR||HUBERMANN^ROSWITHA||19510317|F|||Seeblickweg 12^^Zug"
OBX = "OBX|1|NM|1988-5^CRP^LN||12|furlongs|||||F"


def _hash(_: str) -> str:
    return "ab" * 32


def _kept(*lines: str) -> str:
    return redact("\r".join(lines) + "\r", _hash)


@pytest.mark.parametrize("lead", ["\u00a0", "\u200b", "\ufeff", "\u2003", "\x0b \u00a0"])
def test_a_pid_after_leading_blanks_or_format_characters_is_redacted_as_pid(lead: str) -> None:
    kept = _kept(MSH, lead + PID, OBX)
    assert kept.split("\r")[1] == "PID|1||HMAC:" + "ab" * 32 + "^^^HOSP^MR|||||F|||", kept
    assert "HUBERMANN" not in kept and "Zug" not in kept


def test_the_rest_of_a_pid_after_a_line_that_looks_like_an_unknown_segment_is_blanked() -> None:
    """A break just before a three-letter country (``CHE``) and the field separator: no
    segment HL7 defines, so the rest of PID, its phone and national id, is PID's."""
    pid = "PID|1||MRN4711^^^HOSP^MR||HUBERMANN^ROSWITHA||19510317|F|||Seeblickweg 12^^Zug^^6300^"
    rest = "CHE||0419998877||||||756.1234.5678.97"
    note = "NTE|1||Call 0419998877 or check 756.1234.5678.97"
    kept = _kept(MSH, pid, rest, OBX, note)
    assert "0419998877" not in kept and "756.1234" not in kept, kept
    assert "CHE" not in kept.split("\r")[2], kept
    assert kept.split("\r")[-1] == "NTE|1||Call [redacted] or check [redacted]", kept


def test_the_rest_of_a_next_of_kin_after_a_line_break_is_dropped_with_it() -> None:
    nk1 = "NK1|1|HUBERMANN^KARL|SPO|Seeblickweg 12"
    kept = _kept(MSH, PID, nk1, "Zug||0417776655", OBX)
    assert "0417776655" not in kept and "Zug" not in kept, kept
    assert [line[:3] for line in kept.split("\r")] == ["MSH", "PID", "OBX"]


def test_an_encapsulated_report_keeps_only_its_codes() -> None:
    data = base64.b64encode(b"Report of HUBERMANN ROSWITHA, born 17.03.1951").decode()
    ed = f"OBX|2|ED|11502-2^Report^LN||LAB^application^pdf^Base64^{data}||||||F"
    kept = _kept(MSH, PID, OBX, ed).split("\r")[-1]
    assert kept == "OBX|2|ED|11502-2^Report^LN||[redacted]^application^pdf^Base64^[redacted]||||||F"


def test_a_reference_pointer_keeps_only_its_type_and_subtype() -> None:
    rp = "OBX|2|RP|11502-2^Report^LN||https://lis.example/reports/Hubermann_R^LIS^AP^PDF||||||F"
    kept = _kept(MSH, PID, OBX, rp).split("\r")[-1]
    assert kept == "OBX|2|RP|11502-2^Report^LN||[redacted]^[redacted]^AP^PDF||||||F"


def test_base64_text_in_any_field_is_replaced_and_ordinary_text_kept() -> None:
    data = base64.b64encode(b"HUBERMANN ROSWITHA 19510317").decode()
    note = f"NTE|1||see attachment {data} (haemolysed)"
    kept = _kept(MSH, PID, OBX, note).split("\r")[-1]
    assert kept == "NTE|1||see attachment [redacted] (haemolysed)"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("CReactiveProteinSerumPlasma", True),  # letters alone: a code's text
        ("SpecimenAbCdEf0123456789gH", False),  # a digit: taken for encoded data
        ("ReportOfHubermannRoswithaBornInLucerne", True),  # 38 letters
        ("ReportOfHubermannRoswithaBornInLucerneCH", False),  # 40: taken for encoded data
        ("SFVCRVJNQU5OIFJPU1dJVEhB", False),  # 24, "HUBERMANN ROSWITHA"
        ("SGFsbG8gV2VsdA==", True),  # 16: fewer than 24
    ],
)
def test_what_is_taken_for_base64_text(text: str, kept: bool) -> None:
    note = f"NTE|1||ref {text} end"
    written = _kept(MSH, PID, OBX, note).split("\r")[-1]
    assert written == (note if kept else "NTE|1||ref [redacted] end")


def test_a_long_run_of_digits_or_lower_case_hex_is_no_document() -> None:
    note = "NTE|1||lot 123456789012345678901234567890 ref 0123456789abcdef0123456789abcdef"
    assert _kept(MSH, PID, OBX, note).split("\r")[-1] == note


def test_a_long_message_id_or_order_number_of_letters_and_digits_is_kept() -> None:
    """Ids are what a replay finds the message by: never taken for a document."""
    msh = MSH.replace("|C1|", "|MsgAbCdEf0123456789GhIjKl|")
    obr = "OBR|1|PlacerAbCdEf0123456789GhIj|FillerAbCdEf0123456789GhIj|LAB^Lab panel"
    kept = _kept(msh, PID, obr, OBX).split("\r")
    assert "|MsgAbCdEf0123456789GhIjKl|" in kept[0]
    assert kept[2] == obr
