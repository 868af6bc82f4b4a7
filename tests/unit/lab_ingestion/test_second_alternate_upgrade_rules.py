"""OBX-3's second alternate coding (HL7 v2.7's CWE-10 to 12, read since fixer 267) never
changes what CWE-1 to 6 say of a result (fixer 271, review 269).

- ``identify_analyte`` reads second alternate codes only when the others name no trial
  analyte: ``76485-2^CRP^LN^^^^^^^1988-5^^LN`` is published under 76485-2, as before.
- A replay reads a kept copy without them, unguarded (``without_second_alternates``); a
  resend's reading is guarded (``second_alternates_read_before``).
- CWE-11, a text, may add a CRP-name refusal, never take one away.
- ``with_local_codes`` tells whether the sender's LOINC code names the mapped analyte
  without CWE-10: the translation is added as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters import hl7_observation
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.hl7_obx import codes_of
from services.lab_ingestion.domain.analyte_codes import (
    LOINC_CODES,
    SAME_TEST_CODES,
    identify_analyte,
    other_tests,
)
from services.lab_ingestion.domain.analyte_names import named_analyte, unlisted_analyte
from services.lab_ingestion.domain.local_codes import (
    LocalCodeTable,
    checked_local_code,
    local_key,
    with_local_codes,
)
from services.lab_ingestion.domain.message_identity import (
    BEFORE_SECOND_ALTERNATES,
    content_digest,
    says_the_same,
    second_alternates_read_before,
    without_second_alternates,
)
from services.lab_ingestion.domain.model import Coding, LabMessage, Rejected, RejectionCode
from services.lab_ingestion.service_layer.replay import _has_the_digest
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.hl7_samples import FAST, HASH, fake_hash, one_result_oru, planned

_TRIAL = sorted({*LOINC_CODES, *SAME_TEST_CODES})
_CODES = st.sampled_from([*_TRIAL, "1968-7", "X1", "CRP"])
_SYSTEMS = st.sampled_from(["LN", "http://loinc.org", "99LAB", "L", ""])
_PLT = "OBX|2|NM|777-3^PLT^LN||250|10*9/L|||||F|||20261120081512+0100\r"


def _obx(obx3: str) -> hl7.Segment:
    return hl7.parse(f"MSH|^~\\&|A\rOBX|1|NM|{obx3}||20|mg/L|\r").segments("OBX")[0]


def _message(obx3: str, table: LocalCodeTable | None = None) -> LabMessage:
    text = one_result_oru(obx3, "20", "mg/L")
    message, _ = parse_oru(text, identify=fake_hash, local_codes=table or LocalCodeTable())
    return message


def _analyte(code: str) -> Analyte:
    return LOINC_CODES.get(code) or SAME_TEST_CODES[code]


# --- which code names the analyte ---------------------------------------------------


@given(
    sent=st.lists(st.tuples(_CODES, _SYSTEMS), max_size=3),
    alternates=st.lists(st.tuples(_CODES, _SYSTEMS), min_size=1, max_size=2),
    data=st.data(),
)
@FAST
def test_a_second_alternate_never_changes_the_code_that_names_the_analyte(
    sent: list[tuple[str, str]], alternates: list[tuple[str, str]], data: st.DataObject
) -> None:
    first = [Coding(code, system or None) for code, system in sent]
    second = [Coding(code, system or None, second_alternate=True) for code, system in alternates]
    codes = list(first)
    for coding in second:  # anywhere among the others, as repetitions interleave them
        codes.insert(data.draw(st.integers(0, len(codes))), coding)
    before = identify_analyte(first)
    if before is not None:
        assert identify_analyte(codes) == before
    else:  # only then do they name the test, as in CWE-1
        assert identify_analyte(codes) == identify_analyte(
            [replace(c, second_alternate=False) for c in codes if c.second_alternate]
        )


@pytest.mark.parametrize(
    ("obx3", "loinc"),
    [
        ("76485-2^CRP^LN^^^^^^^1988-5^^LN", "76485-2"),  # review 269: was 1988-5
        ("1988-5^CRP^LN^^^^^^^76485-2^^LN", "1988-5"),
        ("CRPX^CRP^99LAB^^^^^^^76485-2^^LN", "76485-2"),  # CWE-10 alone still names it
    ],
)
def test_the_code_published_is_the_one_cwe_1_to_6_name(obx3: str, loinc: str) -> None:
    result = planned(one_result_oru(obx3, "20", "mg/L"))
    assert isinstance(result, list), result
    [(_, crp)] = result
    assert crp is not None and (crp.analyte, crp.loinc) == (Analyte.CRP, loinc)


@pytest.mark.parametrize("third", ["777-3", "1968-7"])
def test_another_test_in_cwe_10_is_still_ambiguous(third: str) -> None:
    result = planned(one_result_oru(f"76485-2^CRP^LN^^^^^^^{third}^^LN", "20", "mg/L"))
    assert isinstance(result, Rejected) and result.code is RejectionCode.AMBIGUOUS_ANALYTE


def test_a_same_measurement_code_beside_cwe_10_stored_before_is_the_same_message() -> None:
    message = _message("76485-2^CRP^LN^^^^^^^1988-5^^LN")
    before = second_alternates_read_before(message)
    assert before is not None and before == without_second_alternates(message)
    stored = BEFORE_SECOND_ALTERNATES + content_digest(before, HASH)
    assert says_the_same(stored, content_digest(message, HASH), message, HASH)


# --- a replay's reading --------------------------------------------------------------


def test_a_crp_coded_in_cwe_10_alone_and_kept_before_replays() -> None:
    """Refused ``unknown-analyte`` then: no trial result in its kept digest."""
    message = _message("CRPX^CRP^99LAB^^^^^^^1988-5^CRP^LN")
    assert second_alternates_read_before(message) is None  # a resend: not the same message
    then = without_second_alternates(message)
    assert then is not None and identify_analyte(then.observations[0].codes) is None
    kept = content_digest(then, HASH)
    assert kept != content_digest(message, HASH)
    assert _has_the_digest(message, HASH, kept)
    other = content_digest(_message("1988-5^CRP^LN"), HASH)  # what the copy never said
    assert not _has_the_digest(message, HASH, other)


@given(first=_CODES, system=_SYSTEMS, third=st.sampled_from(_TRIAL))
@FAST
def test_the_guarded_reading_is_the_unguarded_one_or_none(
    first: str, system: str, third: str
) -> None:
    message = _message(f"{first}^^{system}^^^^^^^{third}^^LN")
    unguarded = without_second_alternates(message)
    assert unguarded is not None
    assert not any(c.second_alternate for o in unguarded.observations for c in o.codes)
    guarded = second_alternates_read_before(message)
    assert guarded is None or guarded == unguarded


def test_no_unguarded_reading_without_a_second_alternate() -> None:
    assert without_second_alternates(_message("1988-5^CRP^LN^X^^L")) is None


# --- CWE-11 may add a refusal, never take one away -----------------------------------

_NAMES = st.sampled_from(["CRP", "hs-CRP", "S-CRP", "CRP Notfall", "CRP Vorwert", "Na", "X"])


@given(names=st.lists(_NAMES, max_size=3), added=st.lists(_NAMES, max_size=2))
@FAST
def test_a_second_alternate_name_never_takes_a_refusal_away(
    names: list[str], added: list[str]
) -> None:
    codes = [Coding("CRPX", "99LAB")]
    without = unlisted_analyte(codes, names, "20", "NM", "F")
    with_added = unlisted_analyte(codes, names, "20", "NM", "F", added_names=added)
    assert without == named_analyte(names)
    if without is not None:
        assert with_added is without
    if named_analyte([*names, *added]) is not None:
        assert with_added is Analyte.CRP


@pytest.mark.parametrize(
    "obx3",
    [
        "CRPX^CRP^99LAB^^^^^^^K123^CRP Notfall^99KIS",  # review 269: was AA, the CRP left out
        "CRPX^^99LAB^^^^^^^K123^CRP^99KIS",  # named a CRP by CWE-11 alone: added
    ],
)
def test_a_locally_coded_crp_beside_a_platelet_count_is_refused(obx3: str) -> None:
    result = planned(one_result_oru(obx3, "20", "mg/L") + _PLT)
    assert isinstance(result, Rejected) and result.code is RejectionCode.UNKNOWN_ANALYTE, result


def test_a_second_alternate_name_alone_saying_something_else_refuses_nothing() -> None:
    obx3 = "CRPX^^99LAB^^^^^^^K123^CRP Vorwert^99KIS"
    result = planned(one_result_oru(obx3, "20", "mg/L") + _PLT)
    assert isinstance(result, list), result  # the CRPX left out as another test's, as before
    assert [crp.analyte for _, crp in result if crp is not None] == [Analyte.PLATELETS]


# --- a mapped local code beside CWE-10 -----------------------------------------------


@given(
    target=st.sampled_from(_TRIAL),
    third=st.sampled_from([*_TRIAL, "X9"]),
    system=st.sampled_from(["LN", "99LAB", "L"]),
)
@FAST
def test_a_mapped_code_is_translated_as_before_whatever_cwe_10_holds(
    target: str, third: str, system: str
) -> None:
    codes = codes_of(_obx(f"LCODE^^L^^^^^^^{third}^^{system}"))
    mapped = {local_key("L", "LCODE"): target}
    now = with_local_codes(codes, mapped)
    before = with_local_codes([c for c in codes if not c.second_alternate], mapped)
    assert [c for c in now if c.translated and not c.second_alternate] == [
        c for c in before if c.translated
    ]
    assert identify_analyte(now) == identify_analyte(before) == (_analyte(target), target)


def test_a_translation_beside_cwe_10_s_same_code_is_one_test() -> None:
    codes = codes_of(_obx("CRP^C-reactive protein^L^^^^^^^1988-5^CRP^LN"))
    now = with_local_codes(codes, {local_key("L", "CRP"): "1988-5"})
    assert [(c.code, c.second_alternate) for c in now if c.translated] == [("1988-5", False)]
    assert identify_analyte(now) == (Analyte.CRP, "1988-5")
    assert other_tests(now) == ()


def test_a_mapped_code_beside_its_loinc_in_cwe_10_stored_before_is_the_same_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review 269: refused ``reused-message-id`` when resent under its MSH-10."""
    table = LocalCodeTable([checked_local_code("LIS", "HOSP", "L", "CRP", "1988-5")])
    obx3 = "CRP^C-reactive protein^L^^^^^^^1988-5^CRP^LN"
    read: Callable[..., list[Coding]] = codes_of

    def as_before(obx: hl7.Segment, *, strict: bool = False) -> list[Coding]:
        return [c for c in read(obx, strict=strict) if not c.second_alternate]

    with monkeypatch.context() as before:
        before.setattr(hl7_observation, "codes_of", as_before)
        then = _message(obx3, table)
    now = _message(obx3, table)
    stored = BEFORE_SECOND_ALTERNATES + content_digest(then, HASH)
    assert content_digest(then, HASH) != content_digest(now, HASH)
    assert says_the_same(stored, content_digest(now, HASH), now, HASH)
    result = planned(now)
    assert isinstance(result, list), result
    [(_, crp)] = result
    assert crp is not None and (crp.analyte, crp.loinc) == (Analyte.CRP, "1988-5")
