"""OBX-3's second alternate coding triplet (HL7 v2.7's CWE-10 identifier, CWE-11 text,
CWE-12 coding system; fixer 267), passed over before: ``1988-5^CRP^LN^CRP^CRP^L^^^^777-3^
PLT^LN`` was a CRP although the sender coded it as a platelet count too.

- ``codes_of`` reads it (marked ``second_alternate``), ``names_of`` its text apart,
  ``refuse_nested_codes`` and ``codes_repeat_or_nest`` its code and coding system;
  ``key_code`` names the test by it only where no other code is written.
- The kept copy masks base64 in CWE-11, never in CWE-10 or 12, and keeps a place there.
- A message stored before is compared with its codes as read then, without it
  (``second_alternates_read_before``), where that changes no result's test.
"""

from __future__ import annotations

from dataclasses import replace

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru, redact
from services.lab_ingestion.adapters.hl7_fields import NestedValue
from services.lab_ingestion.adapters.hl7_kept_lines import mask_documents, read_fields
from services.lab_ingestion.adapters.hl7_obx import (
    SECOND_ALTERNATE_NAME,
    codes_of,
    codes_repeat_or_nest,
    key_code,
    names_of,
    refuse_nested_codes,
)
from services.lab_ingestion.domain.local_codes import local_key, with_local_codes
from services.lab_ingestion.domain.message_identity import (
    BEFORE_SECOND_ALTERNATES,
    content_digest,
    says_the_same,
    second_alternates_read_before,
)
from services.lab_ingestion.domain.model import Coding, LabMessage, Rejected, RejectionCode
from tests.unit.lab_ingestion.hl7_samples import FAST, HASH, fake_hash, one_result_oru, planned

SEPARATORS = ("|", "^", "~", "\\", "&")
# a code or coding system as a sender writes one: no HL7 separator, no escape
_CODE = st.text(alphabet="ABCXYZ0123456789-.", min_size=1, max_size=8)


def _obx(obx3: str) -> hl7.Segment:
    return hl7.parse(f"MSH|^~\\&|A\rOBX|1|NM|{obx3}||20|mg/L|\r").segments("OBX")[0]


def _message(obx3: str) -> LabMessage:
    message, _ = parse_oru(one_result_oru(obx3, "20", "mg/L"), identify=fake_hash)
    return message


@given(first=_CODE, second=_CODE, third=_CODE, system=_CODE, text=_CODE)
@FAST
def test_the_third_triplet_is_read_as_a_second_alternate(
    first: str, second: str, third: str, system: str, text: str
) -> None:
    codes = codes_of(_obx(f"{first}^T1^S1^{second}^T2^S2^^^^{third}^{text}^{system}"))
    assert [(c.code, c.system, c.display, c.second_alternate) for c in codes] == [
        (first, "S1", "T1", False),
        (second, "S2", "T2", False),
        (third, system, text, True),
    ]


def test_a_second_alternate_alone_and_in_a_repetition_is_read() -> None:
    alone = codes_of(_obx("CRPX^CRP^99LAB^^^^^^^1988-5^CRP^LN"))
    assert [(c.code, c.system, c.second_alternate) for c in alone] == [
        ("CRPX", "99LAB", False),
        ("1988-5", "LN", True),
    ]
    repeated = codes_of(_obx("A^^L~B^^L^^^^^^^777-3^^LN"))
    assert [(c.code, c.second_alternate) for c in repeated] == [
        ("A", False),
        ("B", False),
        ("777-3", True),
    ]
    assert codes_repeat_or_nest(_obx("A^^L~B^^L^^^^^^^777-3^^LN"))


@given(text=st.text(alphabet="ABCabc -+", min_size=1, max_size=12).filter(str.strip))
@FAST
def test_the_second_alternate_text_is_a_name_read_apart(text: str) -> None:
    """Apart from CWE-2, 5 and 9: it may add a refusal, never take one away (fixer 271)."""
    obx = _obx(f"X1^^99LAB^^^^^^^Y1^{text}^99LAB")
    assert names_of(obx, SECOND_ALTERNATE_NAME) == (text.strip(),)
    assert names_of(obx) == ()


@pytest.mark.parametrize("component", [10, 12])
def test_sub_components_in_the_second_alternate_code_or_system_are_refused(
    component: int,
) -> None:
    parts = ["1988-5", "CRP", "LN", "", "", "", "", "", "", "X", "T", "L"]
    parts[component - 1] += "&777-3"
    obx = _obx("^".join(parts))
    with pytest.raises(NestedValue):
        refuse_nested_codes(obx)
    assert codes_repeat_or_nest(obx)


def test_sub_components_in_the_second_alternate_text_are_a_name() -> None:
    obx = _obx("1988-5^CRP^LN^^^^^^^X^Na & K^L")
    refuse_nested_codes(obx)  # no raise
    assert not codes_repeat_or_nest(obx)


@given(first=_CODE, third=_CODE)
@FAST
def test_the_key_names_the_test_by_a_second_alternate_only_alone(first: str, third: str) -> None:
    assert key_code(codes_of(_obx(f"{first}^^L^^^^^^^{third}^^LN"))) == first
    assert key_code(codes_of(_obx(f"^^^^^^^^^{third}^^LN"))) == third
    assert key_code(codes_of(_obx(f"^^^^^^^^^{third}^^LN~{first}^^L"))) == first


def test_a_result_keyed_by_its_second_alternate_has_the_key_made_before_as_legacy() -> None:
    (observation,) = _message("^^^^^^^^^1988-5^CRP^LN").observations
    assert observation.result_key == "FIL1|1988-5|"
    assert observation.legacy_key == "FIL1||"


def test_another_trial_code_in_cwe_10_is_ambiguous_as_in_cwe_4() -> None:
    in_4 = planned(one_result_oru("1988-5^CRP^LN^777-3^PLT^LN", "20", "mg/L"))
    in_10 = planned(one_result_oru("1988-5^CRP^LN^CRP^CRP^L^^^^777-3^PLT^LN", "20", "mg/L"))
    assert isinstance(in_4, Rejected) and in_4.code is RejectionCode.AMBIGUOUS_ANALYTE
    assert in_10 == in_4


def test_a_trial_code_in_cwe_10_alone_is_read() -> None:
    result = planned(one_result_oru("CRPX^CRP^99LAB^^^^^^^1988-5^CRP^LN", "20", "mg/L"))
    assert isinstance(result, list), result
    [(_, crp)] = result
    assert crp is not None and (crp.analyte.value, crp.loinc, crp.value) == ("crp", "1988-5", 20)


def test_a_mapping_of_a_second_alternate_code_alone_is_one() -> None:
    codes = codes_of(_obx("X1^^99LAB^^^^^^^LCRP^^L"))
    mapped = with_local_codes(codes, {local_key("L", "LCRP"): "1988-5"})
    added = [c for c in mapped if c.translated]
    assert [(c.code, c.second_alternate) for c in added] == [("1988-5", True)]


# --- the kept copy -------------------------------------------------------------------

_BASE64 = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3"


def test_the_kept_copy_masks_base64_in_cwe_11_only() -> None:
    fields = ["OBX", "1", "NM", f"1988-5^CRP^LN^^^^^^^{_BASE64}^{_BASE64}^{_BASE64}", "", "20"]
    assert 3 in read_fields("OBX", fields, SEPARATORS)
    mask_documents("OBX", fields, SEPARATORS)
    parts = fields[3].split("^")
    assert parts[9] == _BASE64 and parts[11] == _BASE64  # codes: read back on replay
    assert parts[10] != _BASE64  # a text: masked


def test_a_trial_code_in_cwe_10_alone_makes_the_obx_read_back_whole() -> None:
    fields = ["OBX", "1", "NM", "CRPX^CRP^99LAB^^^^^^^1988-5^CRP^LN", "", "20"]
    assert 3 in read_fields("OBX", fields, SEPARATORS)


def test_a_place_is_kept_in_the_second_alternate_code_and_scrubbed_from_its_text() -> None:
    """As in CWE-1 and 4 (review 207): a code a replay reads back, and a text."""
    text = "\r".join([
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1",
        "PID|1||MRN4711^^^HOSP^MR||DOE^JOHN||19510317|M|||^^Bern",
        "OBR|1|P1|F1|PANEL^Panel^L|||20261120081500+0100",
        "OBX|1|NM|1988-5^CRP^LN^^^^^^^Bern^CRP Bern^Bern||4|mg/L|||||F|||20261120081500+0100",
        "OBX|2|NM|X1^X^L^^^^^^^Bern^X Bern^Bern||4|mg/L|||||F|||20261120081500+0100",
    ])  # fmt: skip
    obx = [line.split("|") for line in redact(text, lambda _: HASH).split("\r")][-2:]
    assert [fields[3] for fields in obx] == [
        "1988-5^CRP^LN^^^^^^^Bern^CRP [redacted]^Bern",
        "X1^X^L^^^^^^^Bern^X [redacted]^Bern",
    ]


# --- a message stored before ---------------------------------------------------------


def _digest_before(message: LabMessage) -> str:
    observations = tuple(
        replace(o, codes=tuple(c for c in o.codes if not c.second_alternate))
        for o in message.observations
    )
    return content_digest(replace(message, observations=observations), HASH)


def test_a_message_stored_before_is_the_same_message_when_marked() -> None:
    message = _message("1988-5^CRP^LN^^^^^^^CRP^CRP^99LAB")
    now = content_digest(message, HASH)
    before = _digest_before(message)
    assert before != now
    assert says_the_same(BEFORE_SECOND_ALTERNATES + before, now, message, HASH)
    assert not says_the_same(before, now, message, HASH)  # stored since: other content


def test_no_reading_before_where_leaving_it_out_changes_the_test() -> None:
    message = _message("CRPV^CRP Vorwert^99LAB^^^^^^^1988-5^^LN")  # another test's before
    assert second_alternates_read_before(message) is None
    assert not says_the_same(
        BEFORE_SECOND_ALTERNATES + _digest_before(message),
        content_digest(message, HASH),
        message,
        HASH,
    )


def test_no_reading_before_without_a_second_alternate() -> None:
    assert second_alternates_read_before(_message("1988-5^CRP^LN^X^^L")) is None


@given(code=_CODE)
@FAST
def test_a_local_second_alternate_beside_a_crp_reads_before_as_the_crp(code: str) -> None:
    message = _message(f"1988-5^CRP^LN^^^^^^^{code}^^99LAB")
    before = second_alternates_read_before(message)
    assert before is not None
    (observation,) = before.observations
    assert observation.codes == (Coding("1988-5", "LN", "CRP"),)
