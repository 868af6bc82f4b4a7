"""HL7 v2 redaction of what a rejection keeps: PID fields, segments and copies of PHI."""

from __future__ import annotations

import base64
import gzip
import re
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import (
    Header,
    build_ack,
    parse_oru,
    read_header,
    redact,
    silence_library_logging,
)
from services.lab_ingestion.adapters.redaction import REDACTED
from services.lab_ingestion.domain.model import RejectionCode
from tests.unit.lab_ingestion.hl7_samples import (
    FAST,
    HASH,
    fake_hash,
    join,
    msh,
    seg,
)

# --- Redaction ----------------------------------------------------------------------------

PHI = {
    "mrn": "MRN0042",
    "second_mrn": "NHS9434765919",
    "family": "DOEFAMILY",
    "given": "JANEGIVEN",
    "maiden": "MAIDENNAME",
    "birth": "19600101",
    "street": "1 MAIN STREET",
    "city": "SMALLTOWN",
    "postcode": "LS1 4AB",
    "home_phone": "0113-555-0100",
    "work_phone": "0113-555-0199",
    "ssn": "123-45-6789",
    "kin": "KINSMAN",
    "kin_phone": "0777-000-111",
}

PHI_PID = seg("PID", {
    1: "1",
    3: f"{PHI['mrn']}^^^NORTHLAB^MR~{PHI['second_mrn']}^^^NHS^NH",
    5: f"{PHI['family']}^{PHI['given']}^Q",
    6: f"{PHI['maiden']}",
    7: PHI["birth"],
    8: "F",
    11: f"{PHI['street']}^^{PHI['city']}^^{PHI['postcode']}^GB",
    13: PHI["home_phone"],
    14: PHI["work_phone"],
    19: PHI["ssn"],
})  # fmt: skip
OBX_LINES = [
    seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 4: "1", 5: "12.5", 6: "mg/L", 11: "F",
                14: "20261102071500+0100"}),
    seg("OBX", {1: "2", 2: "ST", 3: "X-1^Note^L", 5: "a \\T\\ b", 11: "F"}),
]  # fmt: skip
PHI_MESSAGE = [
    msh(control_id="PHI-1"),
    PHI_PID,
    seg("NK1", {1: "1", 2: f"{PHI['kin']}^JOHN", 3: "SPO", 5: PHI["kin_phone"]}),
    seg("NK1", {1: "2", 2: "OTHER^KIN", 3: "CHD"}),
    seg("OBR", {1: "1", 2: "PL1", 3: "FL1", 7: "20261102070000+0000"}),
    *OBX_LINES,
]


@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
def test_redact_removes_every_identifying_value(sep: str) -> None:
    seen: list[str] = []

    def hasher(value: str) -> str:
        seen.append(value)
        return HASH

    out = redact(join(PHI_MESSAGE, sep), hasher)

    for name, value in PHI.items():
        assert value not in out, name
    assert seen == [PHI["mrn"]]  # keyed hash of the first PID-3 identifier only
    lines = out.split("\r")
    pid = next(line for line in lines if line.startswith("PID"))
    fields = pid.split("|")
    assert fields[3] == f"HMAC:{HASH}^^^NORTHLAB^MR"  # the national number (NH) dropped
    for blanked in (5, 6, 7, 11, 13, 14, 19):
        assert fields[blanked] == "", blanked
    assert fields[8] == "F"  # sex is kept
    assert len(fields) == len(PHI_PID.split("|"))


def test_redact_drops_nk1_and_keeps_other_segments_unchanged() -> None:
    out = redact(join(PHI_MESSAGE), fake_hash)
    lines = out.split("\r")
    assert not any(line.startswith("NK1") for line in lines)
    assert [line[:3] for line in lines] == ["MSH", "PID", "OBR", "OBX", "OBX"]
    assert lines[0] == PHI_MESSAGE[0]
    assert lines[2] == PHI_MESSAGE[4]
    assert lines[3:] == OBX_LINES
    assert "\n" not in out


def test_redacted_message_still_parses_with_hashed_identifier() -> None:
    message, header = parse_oru(redact(join(PHI_MESSAGE), fake_hash))
    assert message.patient_identifier == f"HMAC:{HASH}"
    assert header.control_id == "PHI-1"
    assert [o.value for o in message.observations] == ["12.5", "a & b"]


@pytest.mark.parametrize(
    "text",
    [
        "PID",
        "PID|",
        "PID|1|",
        "PID|1||",
        "PID|1||MRN0042",
        "PID|1||^^^A^MR",
        "garbage\nPID|1||MRN0042|x|DOE^JANE\nNK1|1|KIN\nmore garbage",
        "",
    ],
)
def test_redact_short_and_unparseable_input(text: str) -> None:
    out = redact(text, fake_hash)
    assert "MRN0042" not in out
    assert "DOE" not in out
    assert "KIN" not in out


@FAST
@given(text=st.text(), prefix=st.sampled_from(["", "MSH", "MSH|^~\\&|", "MSHabcde", "MSH|||||"]))
def test_redact_never_raises_on_arbitrary_text(text: str, prefix: str) -> None:
    out = redact(prefix + text, fake_hash)
    assert isinstance(out, str)
    # an NK1 segment is dropped; a text with no header keeps only segment names (``NK1
    # [redacted]``: hypothesis found text="NK1", which this test did not allow for)
    assert all(line in ("NK1", "NK1 [redacted]") for line in out.split("\r") if line[:3] == "NK1")
    assert "\n" not in out


@FAST
@given(
    mrn=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=6, max_size=12),
    family=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=6, max_size=12),
    sep=st.sampled_from(["\r", "\n", "\r\n"]),
    noise=st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=20),
)
def test_redact_hides_generated_identifiers(mrn: str, family: str, sep: str, noise: str) -> None:
    text = join([
        msh(),
        seg("PID", {1: "1", 3: f"{mrn}^^^A^MR", 5: f"{family}^X", 7: "19600101"}),
        seg("NK1", {1: "1", 2: f"{family}^Y"}),
        seg("NTE", {1: "1", 3: noise.replace("|", "")}),
    ], sep)  # fmt: skip
    out = redact(text, fake_hash)
    pid = next(line for line in out.split("\r") if line.startswith("PID"))
    assert mrn not in pid
    assert family not in pid
    assert "19600101" not in pid
    assert not any(line.startswith("NK1") for line in out.split("\r"))


@FAST
@given(
    mrn=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=6, max_size=12),
    family=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=12),
    given_name=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=12),
    birth=st.dates(min_value=date(1900, 1, 1)).map(lambda d: d.strftime("%Y%m%d")),
    sep=st.sampled_from(["\r", "\n", "\r\n"]),
    lead=st.sampled_from(["", " ", "\t", "  "]),
    noise=st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=20),
)
def test_redact_scrubs_copies_of_identifiers_everywhere(
    mrn: str, family: str, given_name: str, birth: str, sep: str, lead: str, noise: str
) -> None:
    # segment names, the hash's prefix and PID-3's kept type (MR) may stay as words
    assume({family, given_name}.isdisjoint({"MSH", "PID", "OBR", "OBX", "NTE", "HMAC", "MR"}))
    noise = noise.replace("|", "")
    text = join([
        msh(),
        lead + seg("PID", {1: "1", 3: f"{mrn}^^^A^MR", 5: f"{family}^{given_name}", 7: birth}),
        seg("OBR", {1: "1", 2: f"{mrn}-01", 3: "F1", 13: f"{noise} {given_name} {family}"}),
        seg("OBX", {1: "1", 2: "TX", 3: "X-1^Note^L",
                    5: f"{noise} patient {family.lower()}, {given_name.title()} ({birth})"}),
        seg("NTE", {1: "1", 3: f"{noise} MRN {mrn}; DOB {birth}."}),
    ], sep)  # fmt: skip
    out = redact(text, fake_hash)
    for secret in (mrn, birth, family, given_name):  # as a word: "BR" may stay in "OBR"
        assert not re.search(rf"(?<![^\W_]){secret}(?![^\W_])", out, re.IGNORECASE), secret
    assert out.split("\r")[1].startswith(f"PID|1||HMAC:{HASH}")


PHI_EXTRA = {"alias": "ALIASNAME", "mother_id": "MOTHER7788", "birthplace": "BIRTHTOWN"}


def test_redact_blanks_alias_mothers_identifier_and_birth_place() -> None:
    pid = seg("PID", {1: "1", 3: "MRN0042^^^NORTHLAB^MR", 5: "DOE^JANE", 8: "F",
                      9: f"{PHI_EXTRA['alias']}^ALIASGIVEN", 21: f"{PHI_EXTRA['mother_id']}^^^X^MR",
                      23: PHI_EXTRA["birthplace"], 24: "N"})  # fmt: skip
    out = redact(join([msh(), pid]), fake_hash)
    fields = out.split("\r")[1].split("|")
    for index in (9, 21, 23):
        assert fields[index] == "", index
    for value in PHI_EXTRA.values():
        assert value not in out
    assert fields[8] == "F"
    assert fields[24] == "N"


@pytest.mark.parametrize(
    "pid",
    [
        # one separator missing before the address: it lands in PID-10
        "PID|1||MRN0042^^^NORTHLAB^MR||DOE^JANE||19600101|F||1 MAIN ST^^SMALLTOWN^^LS1 4AB",
        # no segment break before NK1: the next of kin runs on inside PID
        "PID|1||MRN0042^^^NORTHLAB^MR||DOE^JANE|||F|||||||||||||||||||||NK1|1|KINSMAN^JOHN",
        # a long value where a one-letter code belongs
        "PID|1||MRN0042^^^NORTHLAB^MR||||||SMALLTOWN|||||||||||||||KINSMAN",
    ],
    ids=["address-in-pid10", "nk1-run-into-pid", "text-in-a-code-field"],
)
def test_redact_keeps_no_pid_field_but_its_set_id_number_and_codes(pid: str) -> None:
    out = redact(join([msh(), pid]), fake_hash)
    fields = out.split("\r")[1].split("|")
    for value in ("MAIN ST", "SMALLTOWN", "LS1 4AB", "KINSMAN", "JOHN", "DOE", "JANE"):
        assert value not in out, value
    assert fields[1] == "1" and fields[3].startswith(f"HMAC:{HASH}")
    assert {i for i, field in enumerate(fields) if field} <= {0, 1, 3, 8}


def test_redact_blanks_visit_numbers_and_their_copies() -> None:
    pv1 = seg("PV1", {1: "1", 2: "O", 19: "VN88776655", 50: "ALTVISIT991"})
    note = seg("NTE", {1: "1", 3: "visit VN88776655 / ALTVISIT991"})
    out = redact(join([msh(), PHI_PID, pv1, note]), fake_hash)
    assert "VN88776655" not in out and "ALTVISIT991" not in out
    assert out.split("\r")[2].split("|")[:3] == ["PV1", "1", "O"]


@pytest.mark.parametrize("lead", [" ", "\t", "   ", "\x0b", " \t"])
@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
def test_redact_recognises_segments_after_leading_whitespace(lead: str, sep: str) -> None:
    text = sep.join([PHI_MESSAGE[0], lead + PHI_PID, lead + PHI_MESSAGE[2], *PHI_MESSAGE[4:]])
    out = redact(text, fake_hash)
    for name, value in PHI.items():
        assert value not in out, name
    assert [line[:3] for line in out.split("\r")] == ["MSH", "PID", "OBR", "OBX", "OBX"]


def test_parser_reads_a_pid_after_leading_whitespace_too() -> None:
    message, _ = parse_oru(join([msh(), " " + PHI_PID, *OBX_LINES]))
    assert message.patient_identifier == PHI["mrn"]


@pytest.mark.parametrize(
    ("segment", "secrets"),
    [
        (
            seg("GT1", {1: "1", 3: "GUARANTORNAME^GUS", 5: "9 GUARANTOR ROAD"}),
            ["GUARANTORNAME", "GUS", "9 GUARANTOR ROAD"],
        ),
        (
            seg("IN1", {1: "1", 2: "PLAN9", 16: "INSUREDNAME^IVY", 36: "POLICY123"}),
            ["INSUREDNAME", "IVY", "POLICY123"],
        ),
        (seg("IN2", {1: "INSURED-EMP-ID-55", 2: "SSN-55"}), ["INSURED-EMP-ID-55", "SSN-55"]),
        (seg("IN3", {1: "1", 2: "CERTIFICATE-77"}), ["CERTIFICATE-77"]),
        (
            seg("MRG", {1: "OLDMRN999^^^NORTHLAB^MR", 7: "OLDNAME^OLGA"}),
            ["OLDMRN999", "OLDNAME", "OLGA"],
        ),
    ],
    ids=["GT1", "IN1", "IN2", "IN3", "MRG"],
)
def test_redact_drops_guarantor_insurance_and_merge_segments(
    segment: str, secrets: list[str]
) -> None:
    text = join([PHI_MESSAGE[0], PHI_PID, segment, PHI_MESSAGE[4], *OBX_LINES])
    out = redact(text, fake_hash)
    assert [line[:3] for line in out.split("\r")] == ["MSH", "PID", "OBR", "OBX", "OBX"]
    for secret in secrets:
        assert secret not in out, secret


def test_redact_scrubs_copies_of_names_from_dropped_segments() -> None:
    text = join([
        PHI_MESSAGE[0], PHI_PID,
        seg("MRG", {1: "OLDMRN999^^^NORTHLAB^MR", 7: "OLDNAME^OLGA"}),
        seg("NK1", {1: "1", 2: "KINSMAN^JOHN"}),
        seg("NTE", {1: "1", 3: "merged from OLDMRN999 (Olga Oldname); kin John Kinsman"}),
    ])  # fmt: skip
    out = redact(text, fake_hash)
    assert out.split("\r")[-1] == (
        "NTE|1||merged from [redacted] ([redacted] [redacted]); kin [redacted] [redacted]"
    )


def test_redact_scrubs_copies_in_nte_obr_and_obx() -> None:
    text = join([
        *PHI_MESSAGE[:2],
        seg("OBR", {1: "1", 2: f"{PHI['mrn']}-01", 3: "FL1", 7: "20261102070000+0000",
                    13: f"pt {PHI['family']} {PHI['given']}, NHS {PHI['second_mrn']}"}),
        seg("OBX", {1: "1", 2: "TX", 3: "X-1^Note^L",
                    5: f"Called Mrs Doefamily (dob {PHI['birth']}) at {PHI['home_phone']}"}),
        seg("NTE", {1: "1", 3: f"Janegiven lives at {PHI['street']}, {PHI['city']} "
                               f"{PHI['postcode']}; kin {PHI['kin']}"}),
        seg("NTE", {1: "2", 3: f"birth time {PHI['birth']} 0830 maiden name {PHI['maiden']}"}),
        seg("NK1", {1: "1", 2: f"{PHI['kin']}^JOHN", 3: "SPO"}),
    ])  # fmt: skip
    out = redact(text, fake_hash)
    for name, value in PHI.items():
        assert value.lower() not in out.lower(), name
    obr = out.split("\r")[2].split("|")
    # the patient's number in an order number: masked as the accepted path masks the key
    assert obr[2] == f"#{HASH[:12]}-01"
    assert obr[3] == "FL1"
    assert obr[7] == "20261102070000+0000"
    message, _ = parse_oru(out)
    assert message.observations[0].value.startswith("Called Mrs [redacted] (dob [redacted])")


def test_redact_scrubs_two_letter_names_as_whole_words_only() -> None:
    text = join([
        msh(app="LENA-LAB"),
        seg("PID", {1: "1", 3: "N251A^^^NORTHLAB^MR", 5: "NGUYEN^LE", 8: "F"}),
        seg("OBR", {1: "1", 3: "FL251", 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: "ST", 3: "X-1^Note^L", 5: "Le Nguyen: see\\.br\\LEVEL \\XC2B5\\",
                    6: "mg/L", 11: "F"}),
        seg("NTE", {1: "1", 3: "LE, N251A"}),
    ])  # fmt: skip
    out = redact(text, fake_hash)
    lines = out.split("\r")
    assert lines[0] == text.split("\r")[0]  # LENA-LAB, LENA-CCS untouched
    assert lines[3].split("|")[5] == "[redacted] [redacted]: see\\.br\\LEVEL \\XC2B5\\"
    assert lines[4] == f"NTE|1||[redacted], HMAC:{HASH}"


def test_redact_hashes_each_patient_number_with_its_authority_and_drops_the_others() -> None:
    text = join([
        msh(),
        seg("PID", {1: "1", 3: "R4711^^^REGION^MR~H8150&x^^^HOSP&1.2.3&ISO^PI~ACC1^^^H^AN"}),
        seg("NTE", {1: "1", 3: "R4711 H8150 ACC1"}),
    ])  # fmt: skip
    out = redact(text, lambda number: f"h{number[0]}")
    lines = out.split("\r")
    assert lines[1].split("|")[3] == "HMAC:hR^^^REGION^MR~HMAC:hH^^^HOSP&&ISO^PI"  # 1.2.3: no OID
    # H8150&x (an unescaped &: the parser refuses it) is hashed whole, and H8150 is
    # scrubbed as a dropped number: never the hash of H8150, another patient's number
    assert lines[2] == "NTE|1||HMAC:hR [redacted] [redacted]"


@pytest.mark.parametrize(
    ("pid3", "number"),
    [
        ("12\\T\\34567^^^HOSP^MR", "12&34567"),
        ("12\\X33\\45678^^^HOSP^MR", "12345678"),
        # hex escapes as UTF-8 (the enrolment's MÜLLER1), never one byte a character
        ("M\\XC39C\\LLER1^^^HOSP^MR", "MÜLLER1"),
        ("M\\XC3\\\\X9C\\LLER1^^^HOSP^MR", "MÜLLER1"),
        ("MRN\\XEFBC91\\^^^HOSP^MR", "MRN\uff11"),
        ("M\\XC39C\\LLER1^^^HOSP^\\X4D52\\", "MÜLLER1"),  # the type in hex too
    ],
)
def test_redact_hashes_a_number_as_the_parser_reads_it(pid3: str, number: str) -> None:
    seen: list[str] = []
    text = join([msh(), seg("PID", {1: "1", 3: pid3})])

    def hashed(value: str) -> str:
        seen.append(value)
        return HASH

    redact(text, hashed)
    parsed, _ = parse_oru(text)
    assert seen == [parsed.patient_identifier] == [number]


def test_a_copy_of_a_number_sent_in_hex_escapes_gives_way_to_its_hash_however_spelt() -> None:
    """PID-3 ``M\\XC39C\\LLER1`` reads MÜLLER1: its copies, escaped or not, are found."""
    note = "for M\\XC39C\\LLER1, MÜLLER1 and m\\XC3BC\\ller1"
    text = join([msh(), seg("PID", {1: "1", 3: "M\\XC39C\\LLER1^^^HOSP^MR"}),
                 seg("NTE", {1: "1", 3: note})])  # fmt: skip
    lines = redact(text, lambda value: "h").split("\r")
    assert lines[1].split("|")[3] == "HMAC:h^^^HOSP^MR"
    assert lines[2] == "NTE|1||for HMAC:h, HMAC:h and HMAC:h"


@pytest.mark.parametrize(
    ("pid3", "others", "kept"),
    [
        # another repetition's number, a name or a date misplaced in a kept authority
        ("123456^^^HOSP^MR~L-77^^^LAB&AB1234&L^PI~AB1234^^^HOSP^AN", {},
         "HMAC:h^^^HOSP^MR~HMAC:h^^^LAB&&L^PI"),
        ("123456^^^HOSP&&DOE^MR", {5: "DOE^JANE"}, "HMAC:h^^^HOSP^MR"),
        ("123456^^^HOSP&&Jane Doe^MR", {5: "DOE^JANE"}, "HMAC:h^^^HOSP^MR"),
        ("123456^^^HOSPSMITH^MR", {5: "SMITH^JANE"}, "HMAC:h^^^^MR"),  # inside a word too
        ("123456^^^HOSP&\\X534D495448\\^MR", {5: "SMITH"}, "HMAC:h^^^HOSP^MR"),  # escaped
        ("123456^^^HOSP&Mar 4 1961^MR", {7: "19610304"}, "HMAC:h^^^HOSP^MR"),
        # a name of two letters is scrubbed as a word of its own
        ("123456^^^HOSP&&LI LAB^MR", {5: "LI^WEI"}, "HMAC:h^^^HOSP&&[redacted] LAB^MR"),
        ("123456^^^SSN 123-45-6789^MR", {}, "HMAC:h^^^^MR"),
        ("123456^^^HOSP&04MAR1961&L^MR", {}, "HMAC:h^^^HOSP&&L^MR"),
        ("123456^^^1.3.1961^MR", {}, "HMAC:h^^^^MR"),
        ("123456^^^HOSP&19610304^MR", {7: "19610304"}, "HMAC:h^^^HOSP^MR"),
        ("L-77^^^HOSP&L-77 DOE&L^MR", {5: "DOE"}, "HMAC:h^^^HOSP&&L^MR"),
        # an empty MR naming its authority is kept: it says the number is missing
        ("^^^HOSP^MR~123456^^^LAB^PI", {}, "^^^HOSP^MR~HMAC:h^^^LAB^PI"),
        ("123456^^^^PI~^^^^PT", {}, "HMAC:h^^^^PI~^^^^PT"),  # an empty typed one too
    ],
)  # fmt: skip
def test_redact_scrubs_what_a_kept_authority_holds_of_the_patient(
    pid3: str, others: dict[int, str], kept: str
) -> None:
    text = join([msh(), seg("PID", {1: "1", 3: pid3, **others})])
    out = redact(text, lambda value: "h")
    assert out.split("\r")[1].split("|")[3] == kept
    for secret in ("AB1234", "DOE", "Doe", "Jane", "123-45-6789", "04MAR1961", "1.3.1961",
                   "19610304", "L-77", "SMITH", "X534D495448", "Mar 4", "LI "):  # fmt: skip
        assert secret not in out


def test_redact_keeps_a_number_typed_in_a_common_spelling_and_no_number_in_cx4() -> None:
    text = join([msh(), seg("PID", {1: "1", 3: "12345678^^^HOSP^MRN~999^^^87654321^PI"})])
    pid3 = redact(text, lambda value: "h").split("\r")[1].split("|")[3]
    assert pid3 == "HMAC:h^^^HOSP^MR~HMAC:h^^^^PI"  # the type as the parser reads it


@pytest.mark.parametrize(
    ("pid3", "kept"),
    [
        # a local type code is never kept verbatim (it may be anything the sender typed)
        ("123^^^HOSP^Doe Jane", "HMAC:h^^^HOSP"),
        ("123^^^HOSP^123-45-6789", "HMAC:h^^^HOSP"),
        # each CX-4 subcomponent is checked: a number in the universal id is dropped alone
        ("123^^^HOSP&7601001234567&ISO^MR", "HMAC:h^^^HOSP&&ISO^MR"),
        # an authority named by its universal id only is kept
        ("123^^^&2.16.840.1.113883.3.1&ISO^MR", "HMAC:h^^^&2.16.840.1.113883.3.1&ISO^MR"),
        ("123^^^7601001234567&2.16.756.5.30&ISO^PI", "HMAC:h^^^&2.16.756.5.30&ISO^PI"),
    ],
)
def test_redact_keeps_only_the_read_type_and_showable_authority_parts(pid3: str, kept: str) -> None:
    text = join([msh(), seg("PID", {1: "1", 3: pid3})])
    out = redact(text, lambda value: "h")
    assert out.split("\r")[1].split("|")[3] == kept
    for secret in ("Doe", "Jane", "123-45-6789", "7601001234567"):
        assert secret not in out


def test_redact_hashes_the_mr_repetition_of_pid3_and_scrubs_the_others() -> None:
    seen: list[str] = []

    def hasher(value: str) -> str:
        seen.append(value)
        return HASH

    text = join([
        msh(),
        seg("PID", {1: "1", 3: "NHS9434765919^^^NHS^NH~MRN0042^^^NORTHLAB^MR", 5: "DOE^JANE"}),
        seg("NTE", {1: "1", 3: "NHS9434765919 / MRN0042"}),
    ])  # fmt: skip
    out = redact(text, hasher)
    assert seen == ["MRN0042"]  # the patient number (PID-3 type MR), not the national one
    assert out.split("\r")[2] == f"NTE|1||[redacted] / HMAC:{HASH}"
    message, _ = parse_oru(text)
    assert message.patient_identifier == "MRN0042"


def test_redact_honours_declared_field_separator() -> None:
    text = (
        "MSH#^~\\&#LABSYS#NORTHLAB#LENA-CCS#TRIAL#20261102091500+0000##ORU^R01#SEP-1#P#2.5.1\r"
        "PID#1##MRN0042^^^NORTHLAB^MR##DOE^JANE##19600101#F\r"
        "OBX#1#NM#1988-5^CRP^LN##12.5#mg/L#####F\r"
    )
    message, _ = parse_oru(text)
    assert message.patient_identifier == "MRN0042"  # the parser reads the declared separator
    out = redact(text, fake_hash)
    assert "MRN0042" not in out
    assert "DOE" not in out
    assert "19600101" not in out


SHORT_MSH2_PID = "PID#1##MRN0042^^^NORTHLAB^MR##DOE^JANE##19600101#F###1 MAIN ST^^SMALLTOWN"


@pytest.mark.parametrize(
    "header",
    [
        "MSH#^~\\#LABSYS#NORTHLAB#LENA-CCS#TRIAL#20261102091500+0000##ORU^R01#SEP-2#P#2.5.1",
        "MSH#^#LABSYS#NORTHLAB#LENA-CCS#TRIAL#20261102091500+0000##ORU^R01#SEP-2#P#2.5.1",
        "\ufeffMSH#^~\\&#LABSYS#NORTHLAB#LENA-CCS#TRIAL#20261102091500+0000##ORU^R01#SEP-2#P",
    ],
    ids=["three-encoding-characters", "one-encoding-character", "byte-order-mark"],
)
def test_redact_reads_the_separators_as_the_parser_does(header: str) -> None:
    """python-hl7 takes MSH-2 up to the next field separator and fills in defaults; read
    with other separators, PID could not be split and would be kept whole."""
    out = redact(f"{header}\r{SHORT_MSH2_PID}\r", fake_hash)
    for value in ("MRN0042", "DOE", "JANE", "19600101", "MAIN ST", "SMALLTOWN"):
        assert value not in out, value
    assert f"HMAC:{HASH}" in out


@pytest.mark.parametrize(
    "header",
    ["MSH|^^\\&|LAB|HOSP|LENA|TRIAL|20261102+0000||ORU^R01|C1|P|2.5.1", "MSHa^~\\&a"],
    ids=["repeated-separator", "letter-as-separator"],
)
def test_redact_keeps_only_segment_names_when_the_separators_are_unusable(header: str) -> None:
    out = redact(f"{header}\r{PHI_PID}\rNTE|1||{PHI['family']}", fake_hash)
    assert out.split("\r") == ["MSH [redacted]", "PID [redacted]", "NTE [redacted]"]


def test_redact_keeps_free_text_continued_after_a_raw_line_break_as_redacted() -> None:
    """A line break inside NTE text splits it into a line that is no segment: no scrubbing
    knows what such text holds (a name PID does not give), so it is kept as ``[redacted]``."""
    note = f"NTE|1||Called ward re patient\n{PHI['family']} {PHI['given']}, born {PHI['birth']}"
    out = redact(join([*PHI_MESSAGE, note]), fake_hash)
    assert out.split("\r")[-2:] == ["NTE|1||Called ward re patient", "[redacted]"]


def test_redact_masks_the_patients_number_run_into_the_message_id_and_order_numbers() -> None:
    text = join([
        msh(control_id=f"ORD{PHI['mrn']}"), PHI_PID,
        seg("ORC", {1: "RE", 2: f"P{PHI['mrn']}", 3: f"F{PHI['mrn']}"}),
        seg("OBR", {1: "1", 2: f"P{PHI['mrn']}", 3: f"F{PHI['mrn']}"}), *OBX_LINES,
    ])  # fmt: skip
    out = redact(text, fake_hash)
    assert PHI["mrn"] not in out
    masked = f"#{HASH[:12]}"
    header = read_header(out)
    assert header is not None and header.control_id == f"ORD{masked}"
    orc, obr = (line.split("|") for line in out.split("\r")[2:4])
    assert (orc[2], orc[3], obr[2], obr[3]) == (f"P{masked}", f"F{masked}") * 2


def test_redact_finds_a_patient_number_written_in_groups_as_its_digits_too() -> None:
    """PID-3 ``987.654.321`` and its digits in MSH-10, an order number and a note: the ids
    masked as the accepted path masks them (the copy's MSH-10 is the rejection's control id,
    published on lab.rejected.v1), the note's copy replaced by the number's hash, as the
    other identifiers' grouped digits are."""
    digits = "987654321"
    text = join([
        msh(control_id=f"{digits}-1"),
        seg("PID", {1: "1", 3: "987.654.321^^^NORTHLAB^MR"}),
        seg("OBR", {1: "1", 2: "P1", 3: f"F{digits}"}),
        seg("NTE", {1: "1", 3: f"patient {digits}"}),
        *OBX_LINES,
    ])  # fmt: skip
    out = redact(text, fake_hash)
    assert digits not in out
    accepted, _ = parse_oru(text, identify=fake_hash)
    header = read_header(out)
    assert header is not None and header.control_id == accepted.control_id == f"#{HASH[:12]}-1"
    lines = out.split("\r")
    assert f"OBR|1|P1|F#{HASH[:12]}" in lines and f"NTE|1||patient HMAC:{HASH}" in lines


def test_a_masked_number_is_escaped_where_the_hash_sign_is_the_field_separator() -> None:
    text = (
        "MSH#^~\\&#LABSYS#NORTHLAB#LENA-CCS#TRIAL#20261102091500+0000##ORU^R01#ORDMRN0042#P#2.5.1"
        "\rPID#1##MRN0042^^^NORTHLAB^MR"
    )
    header = read_header(redact(text, fake_hash))
    assert header is not None and header.control_id == f"ORD#{HASH[:12]}"


@pytest.mark.parametrize(
    ("pid5", "note"),
    [
        ("M\u00dcLLER^J\u00dcRGEN", "for M\\XC3BC\\LLER J\\XC3BC\\RGEN"),  # hex in the note
        ("M\\XC3BC\\LLER^J\\XC3BC\\RGEN", "for M\u00dcLLER J\u00dcRGEN"),  # hex in PID-5
        ("M\\XC3BC\\LLER^J\\XC3BC\\RGEN", "for M\\XDC\\LLER J\\XDC\\RGEN"),  # latin-1
    ],
    ids=["note-escaped", "name-escaped", "other-escape"],
)
def test_redact_finds_a_copy_spelled_with_other_escapes(pid5: str, note: str) -> None:
    text = join([msh(), seg("PID", {1: "1", 3: "MRN0042^^^NORTHLAB^MR", 5: pid5}),
                 seg("NTE", {1: "1", 3: note})])  # fmt: skip
    assert redact(text, fake_hash).split("\r")[-1] == "NTE|1||for [redacted] [redacted]"


def test_redact_finds_a_number_written_in_hex_and_writes_the_field_again_escaped() -> None:
    note = "mrn \\X4D524E30303432\\ seen\\.br\\ok"  # MRN0042
    text = join([msh(), seg("PID", {1: "1", 3: "MRN0042^^^NORTHLAB^MR"}),
                 seg("NTE", {1: "1", 3: note})])  # fmt: skip
    out = redact(text, fake_hash)
    assert "4D524E30303432" not in out
    assert out.split("\r")[-1] == f"NTE|1||mrn HMAC:{HASH} seen\\.br\\ok"


def test_python_hl7_does_not_log_field_contents_once_silenced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    silence_library_logging()
    message = (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1\r"
        "PID|1||SECRET42||DOE^JOHN\r"
        "OBR|1||O1|X|||20261120081500+0100\r"
        # not a trial analyte, nor PID-3: a trial result's value and a patient number are
        # refused before python-hl7 reads an escape it cannot (and logs the field)
        "OBX|1|NM|2345-7^Glucose^LN||SECRET\\Xzz\\42|mg/dL|||||F|||20261120081500+0100\r"
    )
    with caplog.at_level("DEBUG"):
        parse_oru(message)
    assert "SECRET" not in caplog.text  # python-hl7 would log the hospital identifier


@pytest.mark.parametrize("code", sorted(set(RejectionCode) - {RejectionCode.PROCESSING_FAILED}))
def test_every_rejection_has_its_own_error_code_never_internal_error(code: RejectionCode) -> None:
    """207 (application internal error) is kept for failures of the service itself: with AR
    nothing was stored (resend), with AE the message is kept as processing-failed."""
    for version in ("2.3", "2.5.1"):
        ack = build_ack(Header(control_id="X", version=version), "AE", text="t", error=code,
                        control_id="A")  # fmt: skip
        assert "207" not in ack.split("\r")[2], (code, ack)


def test_a_message_the_service_failed_on_is_reported_as_an_internal_error() -> None:
    ack = build_ack(Header(control_id="X", version="2.5.1"), "AE", text="t",
                    error=RejectionCode.PROCESSING_FAILED, control_id="A")  # fmt: skip
    assert "207^Application internal error" in ack.split("\r")[2]


# --- Scrubbing in bounded time, by whole words ---------------------------------------------


def test_redact_of_an_adversarial_name_of_a_few_hundred_kb_finishes() -> None:
    """PID-5 "A A A ... B" made the old single regular expression quadratic (11 s for
    256 KB). No time is asserted: a regression shows as a test that hangs."""
    name = "A " * 150_000 + "B"
    text = join([
        msh(),
        seg("PID", {1: "1", 3: "MRN0042^^^NORTHLAB^MR", 5: name}),
        seg("NTE", {1: "1", 3: f"x {name} y"}),
        seg("NTE", {1: "2", 3: "A " * 150_000}),
        *OBX_LINES,
    ])  # fmt: skip
    out = redact(text, fake_hash)
    lines = out.split("\r")
    assert lines[1].split("|")[5] == ""
    assert lines[2] == "NTE|1||x [redacted] y"
    assert "B" not in lines[3]
    assert lines[4:] == OBX_LINES


def test_redact_of_many_secrets_and_many_fields_finishes() -> None:
    kin = [seg("NK1", {1: str(i), 2: f"KIN{i:03d}X^GIVEN{i:03d}Y"}) for i in range(120)]
    notes = [seg("NTE", {1: str(i), 3: f"note {i} KIN{i % 120:03d}X ok"}) for i in range(8000)]
    out = redact(join([msh(), PHI_PID, *kin, *notes]), fake_hash)
    lines = out.split("\r")
    assert len(lines) == 2 + len(notes)
    assert lines[2] == "NTE|0||note 0 [redacted] ok"
    assert lines[-1] == "NTE|7999||note 7999 [redacted] ok"


def test_redact_keeps_results_ranges_and_times_that_contain_a_short_postal_code() -> None:
    """A PID-11 postal code 8000 used to be replaced anywhere: in OBX-5, in a range and
    inside OBR-7/OBX-14 timestamps. Numbers of fewer than six digits are not searched."""
    kept = [
        seg("OBR", {1: "1", 2: "PL1", 3: "FL1", 7: "20261120080000+0100"}),
        seg("OBX", {1: "1", 2: "NM", 3: "777-3^Platelets^LN", 5: "8000", 6: "10*9/L",
                    7: "1800-8000", 11: "F", 14: "20261120080000+0100"}),
        seg("NTE", {1: "1", 3: "range 1800-8000, drawn 202611200800, 8000 /uL"}),
    ]  # fmt: skip
    pid = seg("PID", {1: "1", 3: "MRN0042^^^NORTHLAB^MR", 5: "MUSTER^ANNA", 7: "19610304",
                      11: "Bahnhofstrasse 1^^Zuerich^^8000^CH"})  # fmt: skip
    out = redact(join([msh(), pid, *kept]), fake_hash)
    lines = out.split("\r")
    assert lines[1].split("|")[11] == ""  # the postal code's own field is still blanked
    assert lines[2:] == kept


# --- Copies of values from NK1, IN1 and GT1 --------------------------------------------------

RELATED = {
    "nk1_street": "12 KIN ROAD",
    "nk1_city": "KINTOWN",
    "nk1_postcode": "KT1 9ZZ",
    "nk1_phone": "0777-000-111",
    "nk1_business_phone": "0777-000-222",
    "nk1_employee_number": "EMP-4411",
    "nk1_identifier": "KINID-5566",
    "contact_street": "3 CONTACT LANE",
    "contact_phone": "0777-000-333",
    "in1_policy": "POLICY123456",
    "in1_insured_id": "INSURED-ID-778899",
    "in1_group_emp_id": "GRPEMP-9911",
    "in1_street": "5 INSURED WAY",
    "in1_city": "INSTOWN",
    "gt1_number": "GUAR-NO-3344",
    "gt1_street": "9 GUARANTOR ROAD",
    "gt1_phone": "0113-555-0777",
    "gt1_business_phone": "0113-555-0888",
    "gt1_ssn": "987-65-4321",
    "gt1_employee_id": "GEMP-2233",
}


def test_redact_scrubs_copies_of_nk1_in1_and_gt1_addresses_phones_and_identifiers() -> None:
    r = RELATED
    text = join([
        msh(), PHI_PID,
        seg("NK1", {1: "1", 2: "KINSMAN^JOHN", 3: "SPO",
                    4: f"{r['nk1_street']}^^{r['nk1_city']}^^{r['nk1_postcode']}^GB",
                    5: r["nk1_phone"], 6: r["nk1_business_phone"], 12: r["nk1_employee_number"],
                    30: "CONTACTNAME^CARL", 31: r["contact_phone"],
                    32: f"{r['contact_street']}^^CONTOWN", 33: f"{r['nk1_identifier']}^^^NHS^NH"}),
        seg("IN1", {1: "1", 2: "PLAN9", 3: "INSCO^^^X", 10: r["in1_group_emp_id"],
                    16: "INSUREDNAME^IVY", 19: f"{r['in1_street']}^^{r['in1_city']}",
                    36: r["in1_policy"], 49: f"{r['in1_insured_id']}^^^X"}),
        seg("GT1", {1: "1", 2: r["gt1_number"], 3: "GUARANTORNAME^GUS",
                    5: f"{r['gt1_street']}^^GUARTOWN", 6: r["gt1_phone"],
                    7: r["gt1_business_phone"], 12: r["gt1_ssn"], 19: r["gt1_employee_id"]}),
        seg("OBR", {1: "1", 2: "PL1", 3: "FL1", 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: "TX", 3: "X-1^Note^L", 11: "F",
                    5: f"policy {r['in1_policy']}, insured {r['in1_insured_id']} "
                       f"({r['in1_group_emp_id']}), {r['in1_street']} {r['in1_city']}"}),
        seg("NTE", {1: "1", 3: f"kin: {r['nk1_street']}, {r['nk1_city']} {r['nk1_postcode']}, "
                               f"tel {r['nk1_phone']} / {r['nk1_business_phone']}, "
                               f"{r['nk1_identifier']}, {r['nk1_employee_number']}; contact "
                               f"{r['contact_street']} {r['contact_phone']}"}),
        seg("NTE", {1: "2", 3: f"guarantor {r['gt1_number']}, {r['gt1_street']}, "
                               f"{r['gt1_phone']}/{r['gt1_business_phone']}, "
                               f"SSN {r['gt1_ssn']}, {r['gt1_employee_id']}"}),
    ])  # fmt: skip
    out = redact(text, fake_hash)
    for name, value in RELATED.items():
        assert value not in out, name
    lines = out.split("\r")
    assert [line[:3] for line in lines] == ["MSH", "PID", "OBR", "OBX", "NTE", "NTE"]
    assert lines[3].split("|")[5] == (
        "policy [redacted], insured [redacted] ([redacted]), [redacted] [redacted]"
    )
    assert lines[5] == (
        "NTE|2||guarantor [redacted], [redacted], [redacted]/[redacted], SSN [redacted], [redacted]"
    )


# --- Formatting variants of birth dates and phones -----------------------------------------


def test_redact_scrubs_reformatted_birth_dates_and_phones() -> None:
    pid = seg("PID", {1: "1", 3: "MRN0042^^^NORTHLAB^MR", 5: "MUSTER^ANNA", 7: "19610304",
                      13: "079 123 45 67", 14: "+41 79 765 43 21"})  # fmt: skip
    text = join([
        msh(), pid,
        seg("OBR", {1: "1", 2: "PL1", 3: "FL1", 7: "20261120080000+0100"}),
        seg("OBX", {1: "1", 2: "TX", 3: "X-1^Note^L", 5: "DOB 1961-03-04, ok", 11: "F"}),
        seg("NTE", {1: "1", 3: "born 04.03.1961 (1961-03-04); call 0791234567 or +41797654321"}),
    ])  # fmt: skip
    out = redact(text, fake_hash)
    lines = out.split("\r")
    assert lines[3].split("|")[5] == "DOB [redacted], ok"
    assert lines[4] == "NTE|1||born [redacted] ([redacted]); call [redacted] or +[redacted]"


def test_redact_scrubs_a_birth_date_with_time_and_its_date_part_as_whole_words() -> None:
    pid = seg("PID", {1: "1", 3: "MRN0042^^^NORTHLAB^MR", 5: "MUSTER^ANNA",
                      7: "196103040830"})  # fmt: skip
    note = seg("NTE", {1: "1", 3: "born 196103040830, dob 19610304 / 1961-03-04"})
    out = redact(join([msh(), pid, note]), fake_hash)
    assert out.split("\r")[2] == "NTE|1||born [redacted], dob [redacted] / [redacted]"


def test_redact_scrubs_a_two_letter_name_that_is_a_whole_field() -> None:
    text = join([msh(), seg("PID", {1: "1", 3: "N251A^^^NORTHLAB^MR", 5: "NGUYEN^LE"}),
                 seg("NK1", {1: "1", 2: "KO^AN"}), seg("NTE", {1: "LE", 3: "ko"})])  # fmt: skip
    assert redact(text, fake_hash).split("\r")[2] == "NTE|[redacted]||[redacted]"


def test_a_field_too_costly_to_search_is_replaced_whole_and_alone() -> None:
    """Tens of thousands of copies of a two-letter name: that field goes, the rest stays."""
    text = join([
        msh(), seg("PID", {1: "1", 3: "N251A^^^NORTHLAB^MR", 5: "NGUYEN^LE"}),
        seg("NTE", {1: "1", 3: "le " * 90_000}), *OBX_LINES,
    ])  # fmt: skip
    lines = redact(text, fake_hash).split("\r")
    assert lines[0] == text.split("\r")[0]
    assert lines[2] == "NTE|1||[redacted]"
    assert lines[3:] == OBX_LINES


def test_redact_scrubs_turkish_and_greek_spellings_in_any_case() -> None:
    """Copies are searched with the dotted capital and the dotless I as "i", a final sigma
    as a sigma; a dotted capital I anywhere in a note must not stop other names from being
    found in any case (``Scrubber`` alone then matches only the written, upper and lower
    case of a secret)."""
    dotted, dotless = "\u0130", "\u0131"
    papas, nikos = "\u03a0\u0391\u03a0\u0391\u03a3", "\u039d\u0399\u039a\u039f\u03a3"
    papas_text, nikos_text = "\u03a0\u03b1\u03c0\u03b1\u03c2", "\u039d\u03b9\u03ba\u03bf\u03c2"
    pid = seg("PID", {1: "1", 3: "MRN0042^^^NORTHLAB^MR",
                      5: f"YILMAZ^{dotted}SMA{dotted}L~{papas}^{nikos}"})  # fmt: skip
    text = f"{dotted}la\u00e7: {dotted}smail Y{dotless}lmaz, ismail; {nikos_text} {papas_text} ok"
    out = redact(join([msh(), pid, seg("NTE", {1: "1", 3: text})]), fake_hash)
    assert out.split("\r")[2] == (
        f"NTE|1||{dotted}la\u00e7: [redacted] [redacted], [redacted]; [redacted] [redacted] ok"
    )


def test_a_name_written_with_an_escape_sequence_is_scrubbed_in_its_copies() -> None:
    """Senders without umlauts write Müller as M\\XFC\\LLER; its copy holds the escape."""
    message = (
        "MSH|^~\\&|LIS|HOSP|A|B|20261102091500+0000||ORU^R01|C1|P|2.5.1\r"
        "PID|1||MRN123456^^^H^MR||M\\XFC\\LLER^HANS||19610304\r"
        "NTE|1||Patient M\\XFC\\LLER called; keep \\XFC\\ alone\r"
        "OBX|1|NM|1988-5^CRP^LN||5|mg/L|||||F\r"
    )
    kept = redact(message, fake_hash)
    assert "LLER" not in kept
    assert "NTE|1||Patient [redacted] called; keep \\XFC\\ alone" in kept


@pytest.mark.parametrize("encoding", ["base64", "gzip", "headless"])
def test_a_body_without_an_msh_segment_keeps_nothing_but_segment_names(encoding: str) -> None:
    """Compressed or base64 HL7 (a body the service could not read as ER7) holds the whole
    patient, and had nothing to redact: it was kept as sent."""
    message = join(PHI_MESSAGE).encode()
    text = {
        "base64": base64.b64encode(message).decode(),
        "gzip": gzip.compress(message).decode("latin-1"),
        "headless": join(PHI_MESSAGE[1:]),  # PID and the rest, no MSH
    }[encoding]
    out = redact(text, fake_hash)
    for line in out.split("\r"):
        assert line == REDACTED or re.fullmatch(rf"[A-Z][A-Z0-9]{{2}} {re.escape(REDACTED)}", line)
    if encoding == "headless":
        assert out.split("\r")[0] == f"PID {REDACTED}"


def test_a_number_run_into_msh_3_or_4_is_masked_but_an_oid_sender_kept() -> None:
    """Review 108: an unknown sender's fields are anyone's to write; the patient's number run
    into them is masked as in MSH-10. A universal id that is an OID is the sender's name and
    kept whole, whatever number an arc of it is."""
    pid = seg("PID", {1: "1", 3: "113883^^^HOSP^MR"})
    text = join([
        msh(app="LIS113883X^2.16.840.1.113883.3.72^ISO", facility="HOSP113883"),
        pid, seg("OBR", {1: "1", 3: "ORD1"}),
    ])  # fmt: skip
    sender = redact(text, fake_hash).split("\r")[0].split("|")
    assert "113883X" not in sender[2] and sender[2].startswith("LIS#")
    assert sender[2].endswith("^2.16.840.1.113883.3.72^ISO")
    assert sender[3].startswith("HOSP#") and "113883" not in sender[3]
