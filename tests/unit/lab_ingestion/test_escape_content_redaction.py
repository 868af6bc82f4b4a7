"""What an HL7 escape sequence holds, in a kept copy (review 108): the content of any
sequence HL7 does not define with a well-formed body is masked (a site's ``\\Z..\\``, a
``\\C`` that is no hex, one never closed), a defined one is kept as written, and a personal
value next to either, or spelled in hex, is found all the same."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import Hl7InputError, parse_oru, redact
from services.lab_ingestion.adapters.hl7_escape_masks import masked_escapes
from tests.unit.lab_ingestion.hl7_samples import FAST, fake_hash

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1"
PID = "PID|1||MRN4711^^^HOSP^MR||HUBERMANN^ROSWITHA^^^^^L||19510317|F"
OBR = "OBR|1|PLC1|ORD1|LAB^Lab panel|||20261120081500+0100"
CRP = "OBX|1|NM|1988-5^CRP^LN||12|furlongs|||||F|||20261120081500+0100"
SEPARATORS = ("|", "^", "~", "\\", "&")
# every escape HL7 defines with a well-formed body (\P\ is v2.7's truncation)
DEFINED = ["\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\E\\", "\\P\\", "\\H\\", "\\N\\", "\\X41\\",
           "\\XC3BC\\", "\\C2842\\", "\\M2442\\", "\\M244228\\", "\\.br\\", "\\.fi\\", "\\.nf\\",
           "\\.ce\\", "\\.sp\\", "\\.sp2\\", "\\.in+4\\", "\\.ti-2\\", "\\.sk3\\"]  # fmt: skip
MASKED_IDS = ["z", "c", "m", "x", "x-digits", "h-n", "formatting", "short", "never-closed",
              "component", "sub-repetition"]  # fmt: skip


def _note(text: str, pid: str = PID) -> str:
    """The NTE of the copy of a message whose note is ``text``."""
    message = "\r".join([MSH, pid, OBR, CRP, f"NTE|1||{text}"]) + "\r"
    return redact(message, fake_hash).split("\r")[-1]


@pytest.mark.parametrize(
    ("note", "kept"),
    [
        (
            "Rueckfrage \\ZMRN4711\\ \\ZHUBERMANN\\ \\Z19510317\\",
            "Rueckfrage \\Z[redacted]\\ \\Z[redacted]\\ \\Z[redacted]\\",
        ),
        ("\\CHUBERMANN\\", "\\C[redacted]\\"),  # a character set switch that is no hex
        ("\\M19510317\\", "\\M[redacted]\\"),  # hex, but no two or three bytes
        ("\\X19510317A\\", "\\X[redacted]\\"),  # hex, but no pairs
        ("\\X19510317\\ \\X41\\", "\\X[redacted]\\ \\X41\\"),  # hex spelling a secret
        ("\\HUBERMANN\\ \\NHUBERMANN\\", "\\H[redacted]\\ \\N[redacted]\\"),
        ("\\.in+HUBERMANN\\ \\.sp0319998877\\", "\\.[redacted]\\ \\.[redacted]\\"),
        ("\\ zz\\ \\Z\\ \\\\", "\\[redacted]\\ \\Z\\ \\\\"),  # a bare code letter is no value
        ("call \\ZHUBERMANN", "call \\Z[redacted]"),  # never closed: what follows goes
        ("a \\ZHUBER^MANN\\ b", "a \\Z[redacted]^MANN\\[redacted]"),  # read per component
        ("a \\ZROSWITHA&x\\~\\Z19510317", "a \\Z[redacted]&x\\~\\Z[redacted]"),
    ],
    ids=MASKED_IDS,
)
def test_the_content_of_an_escape_hl7_does_not_define_is_masked(note: str, kept: str) -> None:
    assert _note(note) == f"NTE|1||{kept}"


@pytest.mark.parametrize("escape", DEFINED)
def test_an_escape_hl7_defines_is_kept_as_written(escape: str) -> None:
    assert _note(f"a{escape}b {escape}") == f"NTE|1||a{escape}b {escape}"


def test_a_trial_value_refused_for_its_escape_keeps_no_name_and_reads_as_it_did() -> None:
    """The copy reads as the message did: refused for the same escape (python-hl7 reads
    either sequence as nothing)."""
    pid = PID.replace("HUBERMANN", "ZWYSSIGMANN")
    crp = CRP.replace("||12|furlongs|", "||1\\ZZWYSSIGMANN\\2|mg/L|")
    message = "\r".join([MSH, pid, OBR, crp]) + "\r"
    copy = redact(message, fake_hash)
    assert "WYSSIGMANN" not in copy
    assert "||1\\Z[redacted]\\2|mg/L|" in copy
    reasons = []
    for text in (message, copy):
        with pytest.raises(Hl7InputError) as refused:
            parse_oru(text, identify=fake_hash)
        reasons.append((refused.value.code, refused.value.reason))
    assert reasons[0] == reasons[1]


def test_a_copy_with_masked_escapes_outside_trial_results_reads_as_the_message_did() -> None:
    other = "OBX|2|ST|9999-9^Kommentar^L||\\CHUBERMANN\\ ok \\ZQ^b||||||F"
    message = "\r".join([MSH, PID, OBR, CRP, other, "NTE|1||x \\ZMRN4711\\ y"]) + "\r"
    copy = redact(message, fake_hash)
    assert "HUBERMANN" not in copy and "MRN4711" not in copy
    read, _ = parse_oru(message, identify=fake_hash)
    read_again, _ = parse_oru(copy, identify=fake_hash)
    assert read_again.observations == read.observations


@pytest.mark.parametrize(
    "note",
    ["\\X00\\ \\X4D524E34373131\\", "\\.sp500\\ \\X4D524E34373131\\", "\\X4D524E34373131\\"],
    ids=["beside-a-nul", "beside-a-count-over-the-limit", "alone"],
)
def test_a_number_in_hex_is_found_beside_an_escape_python_hl7_cannot_read(note: str) -> None:
    """``\\X4D524E34373131\\`` reads MRN4711; python-hl7 cannot read the value's other
    escape, so the value is read without it."""
    kept = _note(note)
    assert "4D524E34373131" not in kept and "MRN4711" not in kept
    assert "HMAC:" in kept


_SECRETS = ("MRN4711", "HUBERMANN", "ROSWITHA", "19510317", "17.03.1951")


def _hex(text: str) -> str:
    return "\\X" + text.encode().hex().upper() + "\\"


@FAST
@given(
    secret=st.sampled_from(_SECRETS),
    code=st.sampled_from(["Z", "C", "M", "X", "H", "N", "F", ".in+", ".sp", "Q", "", "ZZ"]),
    before=st.sampled_from(["", " ", "x", "1", "\\.br\\", "\\H\\", "\\Zq\\", "^"]),
    after=st.sampled_from(["", " ", "y", "2", "\\.br\\", "\\N\\", "\\Zq\\", "&"]),
    closed=st.booleans(),
)
def test_any_secret_in_any_escape_is_gone_from_the_copy(
    secret: str, code: str, before: str, after: str, closed: bool
) -> None:
    """A secret inside an escape of any code letter, closed or not, between any neighbours
    (text, a defined escape, an undefined one, a separator)."""
    inside = f"\\{code}{secret}" + ("\\" if closed else "")
    kept = _note(f"note {before}{inside}{after} end")
    assert secret not in kept, kept


@FAST
@given(
    secret=st.sampled_from(_SECRETS),
    escape=st.sampled_from([*DEFINED, "\\Zq\\", "\\CQ\\", "\\\\", "\\X00\\"]),
    where=st.sampled_from(["before", "after", "both"]),
    in_hex=st.booleans(),
)
def test_any_secret_next_to_any_escape_is_gone_from_the_copy(
    secret: str, escape: str, where: str, in_hex: bool
) -> None:
    """A secret right before or after an escape, defined or not, written as it is or in
    hex: found as a whole word beside the escape character, or as the value reads (in hex
    beside a hex escape it reads run into the escape's letter: another word, kept)."""
    assume(not (in_hex and escape in ("\\X41\\", "\\XC3BC\\")))  # they read as letters
    written = _hex(secret) if in_hex else secret
    text = {"before": f"{written}{escape}", "after": f"{escape}{written}",
            "both": f"{escape}{written}{escape}"}[where]  # fmt: skip
    kept = _note(f"note {text} end")
    assert secret not in kept and _hex(secret)[2:-1] not in kept, kept


@FAST
@given(text=st.text(alphabet="\\^~&|ZCXM.FHNsp0123ab", max_size=40))
def test_masking_keeps_every_separator_and_is_done_once(text: str) -> None:
    value = text.replace("|", "")
    masked = masked_escapes(value, SEPARATORS)
    assert [c for c in masked if c in "^~&"] == [c for c in value if c in "^~&"]
    assert masked_escapes(masked, SEPARATORS) == masked
