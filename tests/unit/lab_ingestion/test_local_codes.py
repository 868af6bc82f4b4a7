"""A sender's local test codes mapped to LOINC (``domain.local_codes``): what a mapping may
be, what reading with one adds (never takes away), how the HL7 parser applies the sender's,
and that a message or rejection kept before a mapping is still known by its digest."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.hl7_codec import Hl7InputError, parse_oru, redact
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.analyte_codes import identify_analyte, other_tests
from services.lab_ingestion.domain.local_codes import (
    InvalidLocalCode,
    LocalCodeTable,
    LocalKey,
    as_sent,
    checked_local_code,
    with_local_codes,
)
from services.lab_ingestion.domain.message_identity import content_digest, says_the_same
from services.lab_ingestion.domain.model import Coding, LabMessage, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import plan_results
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.service_layer.commands import (
    IngestLabMessage,
    IngestOutcome,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.replay import Replayer, ReplayRefused
from shared.contracts.events.lab import Analyte, Channel
from tests.unit.lab_ingestion.hl7_samples import FAST
from tests.unit.lab_ingestion.route_fakes import FakeSubmit
from tests.unit.lab_ingestion.test_replay import RecordingIngest, keyed_hash

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1"
PID = "PID|1||MRN9^^^HOSP^MR||HUBERMANN^ROSWITHA||19510317|F"
OBR = "OBR|1|PLC1|F9|LAB^Lab panel|||20261102070000+0000"
LOCAL_CRP = "OBX|1|NM|CRP^C-reactive protein^L||42|mg/L|0-5|H|||F"
MESSAGE = "\r".join([MSH, PID, OBR, LOCAL_CRP])

CRP_OF_LIS = checked_local_code("LIS", "HOSP", "L", "CRP", "1988-5")
TABLE = LocalCodeTable([CRP_OF_LIS])


def mapped(*codes: Coding, table: LocalCodeTable = TABLE) -> tuple[Coding, ...]:
    return tuple(with_local_codes(codes, table.of_sender("LIS", "HOSP")))


# what a mapping may be


def test_a_mapping_is_kept_stripped_with_its_system_in_upper_case() -> None:
    kept = checked_local_code(" LIS ", "HOSP", " 99lab ", " K-CRP ", " 30522-7 ")
    assert (kept.application, kept.system, kept.code, kept.loinc) == (
        "LIS", "99LAB", "K-CRP", "30522-7",
    )  # fmt: skip
    assert kept.analyte is Analyte.CRP
    assert checked_local_code("LIS", "HOSP", "", "MANDIFF", "753-4").analyte is Analyte.NEUTROPHILS


@pytest.mark.parametrize(
    ("system", "code", "loinc", "why"),
    [
        ("L", "", "1988-5", "blank"),
        ("L", "CRP", "1968-7", "not the LOINC code of a trial analyte"),  # direct bilirubin
        ("L", "CRP", "CRP", "not the LOINC code of a trial analyte"),
        ("LN", "CRP", "1988-5", "is a LOINC code"),
        ("http://loinc.org", "X", "1988-5", "is a LOINC code"),
        ("", "1968-7", "1975-2", "is a LOINC code"),  # direct bilirubin read as total: never
        ("LNC", "1968-7", "1975-2", "is a LOINC code"),  # under a misspelt system too
        ("99LAB", "777-3", "1988-5", "is a LOINC code"),  # platelets' code, check digit and all
        ("L", "CRP^1", "1988-5", "HL7 separator"),
        ("L&X", "CRP", "1988-5", "HL7 separator"),
        ("L", "C\tRP", "1988-5", "control"),
        ("LÄB", "CRP", "1988-5", "not ASCII"),
        ("L", "C" * 65, "1988-5", "longer than 64"),
    ],
)
def test_a_mapping_that_could_misread_a_result_is_refused_with_its_reason(
    system: str, code: str, loinc: str, why: str
) -> None:
    with pytest.raises(InvalidLocalCode, match=why):
        checked_local_code("LIS", "HOSP", system, code, loinc)


@FAST
@given(st.text(max_size=12), st.sampled_from("|^~\\&"), st.text(max_size=12))
def test_a_code_holding_an_hl7_separator_is_never_kept(
    before: str, separator: str, after: str
) -> None:
    with pytest.raises(InvalidLocalCode):
        checked_local_code("LIS", "HOSP", "L", before + separator + after, "1988-5")


@FAST
@given(st.from_regex(r"[0-9]{1,7}-[0-9]", fullmatch=True))
def test_a_code_written_as_loinc_without_a_system_is_never_mapped(code: str) -> None:
    with pytest.raises(InvalidLocalCode, match="is a LOINC code"):
        checked_local_code("LIS", "HOSP", "", code, "1988-5")


# what reading with a mapping adds


def test_a_mapped_local_code_gains_a_translated_loinc_coding_after_those_sent() -> None:
    sent = Coding("CRP", "L", "C-reactive protein")
    codes = mapped(sent)
    assert codes == (sent, Coding("1988-5", "LN", translated=True))
    assert identify_analyte(codes) == (Analyte.CRP, "1988-5")
    assert as_sent(codes) == (sent,)


def test_the_system_is_compared_without_case_the_code_as_written() -> None:
    assert len(mapped(Coding("CRP", "l"))) == 2
    assert mapped(Coding("crp", "L")) == (Coding("crp", "L"),)  # another code
    assert mapped(Coding("CRP")) == (Coding("CRP"),)  # no system: another mapping's


def test_another_senders_mapping_does_not_apply() -> None:
    table = LocalCodeTable([checked_local_code("OTHER", "HOSP", "L", "CRP", "1988-5")])
    assert mapped(Coding("CRP", "L"), table=table) == (Coding("CRP", "L"),)


def test_a_loinc_code_of_the_same_analyte_sent_beside_it_is_published_as_sent() -> None:
    """Manual neutrophils (753-4) sent beside a local code mapped to 751-8: nothing to add,
    the sender's own code names the test."""
    table = LocalCodeTable([checked_local_code("LIS", "HOSP", "L", "NEUT", "751-8")])
    codes = (Coding("NEUT", "L"), Coding("753-4", "LN"))
    assert mapped(*codes, table=table) == codes


def test_a_mapping_contradicting_the_senders_loinc_code_leaves_two_tests() -> None:
    codes = mapped(Coding("CRP", "L"), Coding("777-3", "LN"))  # the sender says platelets
    assert identify_analyte(codes) is not None and other_tests(codes)


def test_two_local_codes_of_two_analytes_leave_two_tests() -> None:
    table = LocalCodeTable([CRP_OF_LIS, checked_local_code("LIS", "HOSP", "99LAB", "PLT", "777-3")])
    codes = mapped(Coding("CRP", "L"), Coding("PLT", "99LAB"), table=table)
    assert other_tests(codes)


@FAST
@given(st.lists(st.tuples(st.sampled_from(["CRP", "PLT", "1988-5", "X"]),
                          st.sampled_from(["L", "LN", "99LAB", None])), max_size=4))  # fmt: skip
def test_a_mapping_never_removes_or_reorders_what_was_sent(
    pairs: list[tuple[str, str | None]],
) -> None:
    codes = tuple(Coding(code, system) for code, system in pairs)
    read = mapped(*codes)
    assert read[: len(codes)] == codes
    assert all(c.translated for c in read[len(codes) :])
    assert as_sent(read) == codes


# the HL7 parser applies the sender's mappings


def test_the_parser_reads_a_mapped_local_code_as_its_analyte_under_the_senders_key() -> None:
    message, _ = parse_oru(MESSAGE, identify=keyed_hash, local_codes=TABLE)
    (observation,) = message.observations
    assert identify_analyte(observation.codes) == (Analyte.CRP, "1988-5")
    assert observation.result_key == "F9|CRP|"  # the sender's code: its corrections find it
    unmapped, _ = parse_oru(MESSAGE, identify=keyed_hash)
    assert identify_analyte(unmapped.observations[0].codes) is None


def test_a_mapped_result_is_read_strictly_as_every_trial_result_is() -> None:
    """A unit read through an escape HL7 does not define: another test's is read leniently,
    a trial result's never (the digits around a dropped escape would join)."""
    text = MESSAGE.replace("|mg/L|", "|mg\\Z1\\/L|")
    parse_oru(text, identify=keyed_hash)  # another test's: read
    with pytest.raises(Hl7InputError):
        parse_oru(text, identify=keyed_hash, local_codes=TABLE)


# a message or rejection kept before the mapping is still known


def test_the_digest_covers_the_codes_as_sent() -> None:
    message, _ = parse_oru(MESSAGE, identify=keyed_hash, local_codes=TABLE)
    as_30522 = LocalCodeTable([checked_local_code("LIS", "HOSP", "L", "CRP", "30522-7")])
    other, _ = parse_oru(MESSAGE, identify=keyed_hash, local_codes=as_30522)
    assert content_digest(message, "h") == content_digest(other, "h")


def test_a_resend_of_a_message_stored_before_its_code_was_mapped_is_not_a_duplicate() -> None:
    """The stored digest did not cover the local result: whether the message held it then
    cannot be told, so the resend is no duplicate (refused as a reused id, kept), never
    dropped unseen."""
    before, _ = parse_oru(MESSAGE, identify=keyed_hash)
    after, _ = parse_oru(MESSAGE, identify=keyed_hash, local_codes=TABLE)
    stored = content_digest(before, "h")
    assert not says_the_same(stored, content_digest(after, "h"), after, "h")


def test_a_mapped_result_added_under_a_reused_id_is_not_a_duplicate() -> None:
    """Stored while the mapping was live, the message held a LOINC result only; sent again
    under its id with a mapped result added, it says something else."""
    loinc_crp = "OBX|1|NM|1988-5^CRP^LN||7|mg/L|0-5||||F"
    added = LOCAL_CRP.replace("OBX|1|", "OBX|2|")
    first = read([MSH, PID, OBR, loinc_crp])
    again = read([MSH, PID, OBR, loinc_crp, added])
    stored = content_digest(first, "h")
    assert not says_the_same(stored, content_digest(again, "h"), again, "h")
    resent = read([MSH, PID, OBR, loinc_crp])
    assert says_the_same(stored, content_digest(resent, "h"), resent, "h")


def read(segments: list[str]) -> LabMessage:
    return parse_oru("\r".join(segments), identify=keyed_hash, local_codes=TABLE)[0]


def _kept_before_the_mapping(text: str) -> KeptRejection:
    message, _ = parse_oru(text, identify=keyed_hash)
    patient_hmac = keyed_hash("MRN9")
    return KeptRejection(
        uuid.uuid4(), Channel.MLLP.value, "LIS^HOSP", message.control_id,
        "unknown-analyte", "the message holds no result of a trial analyte",
        redact(text, keyed_hash), datetime(2026, 11, 2, 9, 30, tzinfo=UTC), patient_hmac,
        content_digest(message, patient_hmac), None, None,
    )  # fmt: skip


def _read_with(table: LocalCodeTable) -> Callable[[KeptRejection], LabMessage]:
    def read(rejection: KeptRejection) -> LabMessage:
        return parse_oru(rejection.payload, identify=keyed_hash, local_codes=table)[0]

    return read


def test_a_rejection_kept_before_its_code_was_mapped_replays_read_as_mapped() -> None:
    kept = _kept_before_the_mapping(MESSAGE)
    message = Replayer(_read_with(TABLE), RecordingIngest()).check(kept)
    assert identify_analyte(message.observations[0].codes) == (Analyte.CRP, "1988-5")


def test_a_kept_copy_that_changed_a_mapped_result_is_still_refused() -> None:
    """Only the mapping's difference is forgiven: a copy holding another value of a result
    the digest covered then (a LOINC CRP beside the local one) does not replay."""
    loinc_crp = "OBX|2|NM|1988-5^CRP^LN||7|mg/L|0-5||||F"
    kept = _kept_before_the_mapping("\r".join([MSH, PID, OBR, LOCAL_CRP, loinc_crp]))
    Replayer(_read_with(TABLE), RecordingIngest()).check(kept)  # as kept: replays
    changed = kept.payload.replace("||7|", "||8|")
    with pytest.raises(ReplayRefused):
        Replayer(_read_with(TABLE), RecordingIngest()).check(replace(kept, payload=changed))


# the rejection of a message of local codes alone says how they are read


@pytest.mark.parametrize(
    ("obx", "hinted"),
    [
        (LOCAL_CRP, True),
        ("OBX|1|NM|CRP^C-reactive protein^99LAB||42|mg/L", True),
        ("OBX|1|NM|CRP^C-reactive protein||42|mg/L", True),  # no system, not LOINC-shaped
        ("OBX|1|NM|1968-7^Bilirubin direct^LN||0.2|mg/dL", False),  # another LOINC test
        ("OBX|1|NM|CRP^CRP^L^1968-7^Bilirubin direct^LN||0.2|mg/dL", False),
        ("OBX|1|NM|CRP^C-reactive protein^L||||||||I", False),  # pending: no result
    ],
)
def test_a_message_of_local_codes_alone_is_rejected_with_how_they_are_read(
    obx: str, hinted: bool
) -> None:
    """Named as CRP (review 155), such a result is refused by its name, saying so too."""
    message, _ = parse_oru("\r".join([MSH, PID, OBR, obx]), identify=keyed_hash)
    rejected = plan_results(message, DEFAULT_UNIT_PARAMETERS, datetime.now(UTC))
    assert isinstance(rejected, Rejected) and rejected.code is RejectionCode.UNKNOWN_ANALYTE
    assert rejected.reason.startswith(
        ("the message holds no result of a trial analyte", "send the CRP (by its name in OBX-3)")
    )
    assert ("cachexia source code add" in rejected.reason) is hinted
    # the sender's text is never quoted (the code, a name)
    assert "'CRP'" not in rejected.reason and "reactive" not in rejected.reason


@pytest.mark.parametrize("channel", [Channel.FHIR, Channel.JSON])
def test_a_fhir_or_json_result_of_a_local_code_is_not_told_of_mappings(channel: Channel) -> None:
    """Only HL7's local codes are mapped: FHIR and JSON name the LOINC code."""
    message, _ = parse_oru("\r".join([MSH, PID, OBR, LOCAL_CRP]), identify=keyed_hash)
    rejected = plan_results(
        replace(message, channel=channel), DEFAULT_UNIT_PARAMETERS, datetime.now(UTC)
    )
    assert isinstance(rejected, Rejected) and "cachexia source code" not in rejected.reason


# where a mapping names the test, nothing else in OBX-3 may name another


def planned(obx: str) -> object:
    message, _ = parse_oru("\r".join([MSH, PID, OBR, obx]), identify=keyed_hash,
                           local_codes=TABLE)  # fmt: skip
    return plan_results(message, DEFAULT_UNIT_PARAMETERS, datetime(2026, 11, 2, 9, tzinfo=UTC))


@pytest.mark.parametrize(
    ("obx", "why"),
    [
        ("OBX|1|NM|CRP^C-reactive protein^L~PLT^Platelets^L||42|mg/L", "repeats"),
        ("OBX|1|NM|CRP^CRP^L^777-3^Platelets^LNC||42|mg/L", "777-3"),  # LOINC, misspelt
        ("OBX|1|NM|CRP^CRP^L^1968-7^Bili direct^99LAB||42|mg/L", "1968-7"),  # a LOINC code
    ],
)
def test_a_mapped_code_beside_another_possible_test_is_ambiguous(obx: str, why: str) -> None:
    rejected = planned(obx + "|0-5||||F|||20261102070000+0000")
    assert isinstance(rejected, Rejected), rejected
    assert rejected.code is RejectionCode.AMBIGUOUS_ANALYTE and why in rejected.reason
    if "LOINC codes" in rejected.reason:  # the code the lab never wrote is said to be mapped
        assert "'1988-5' mapped from the laboratory's own code" in rejected.reason


@pytest.mark.parametrize(
    "obx",
    [
        "OBX|1|NM|CRP^Na & K^L||42|mg/L",  # an unescaped & in the text names nothing
        "OBX|1|NM|CRP^CRP^L^K17^CRP^99LAB||42|mg/L",  # another local code: its alternate
        "OBX|1|NM|CRP^CRP^L^4711-2^CRP^99LAB||42|mg/L",  # shaped as LOINC, no LOINC code
        "OBX|1|NM|CRP^CRP^L^30522-7^hs-CRP^LNC||42|mg/L",  # a code of the same analyte
    ],
)
def test_a_mapped_code_with_its_alternate_or_text_is_one_test(obx: str) -> None:
    result = planned(obx + "|0-5||||F|||20261102070000+0000")
    assert isinstance(result, list) and len(result) == 1, result


@pytest.mark.parametrize("mapped", [True, False])
def test_a_code_with_sub_components_is_malformed_mapped_or_not(mapped: bool) -> None:
    """``CRP&HS`` (read as ``CRP``) was left out unmapped and refused ambiguous mapped;
    since review 118 an OBX-3 code with sub-components refuses the message as malformed,
    whatever it names (``4548-4&1988-5`` hid a CRP)."""
    with pytest.raises(Hl7InputError) as caught:
        parse_oru(
            MESSAGE.replace("CRP^C-reactive", "CRP&HS^C-reactive"),
            identify=keyed_hash,
            local_codes=TABLE if mapped else LocalCodeTable([]),
        )
    assert caught.value.code is RejectionCode.MALFORMED
    assert caught.value.reason.startswith("OBX-3 holds sub-components")


def test_a_code_of_the_mapped_analyte_under_another_system_is_not_published_instead() -> None:
    """Manual neutrophils mapped (753-4); the alternate 751-8 under ``99LAB`` names the same
    analyte: it adds nothing, and the operator's code is the one published."""
    table = LocalCodeTable([checked_local_code("LIS", "HOSP", "L", "NEUT", "753-4")])
    codes = mapped(Coding("NEUT", "L"), Coding("751-8", "99LAB"), table=table)
    assert identify_analyte(codes) == (Analyte.NEUTROPHILS, "753-4")
    assert not other_tests(codes)


def test_the_ambiguity_reason_marks_the_code_the_mapping_supplied_wherever_it_stands() -> None:
    """The lab wrote 777-3 (platelets) as the alternate of its own CRP code: 777-3 is its,
    1988-5 the mapping's, whichever the reason names first."""
    rejected = planned(
        "OBX|1|NM|CRP^CRP^L^777-3^Platelets^LN||42|mg/L|0-5||||F|||20261102070000+0000"
    )
    assert isinstance(rejected, Rejected) and rejected.code is RejectionCode.AMBIGUOUS_ANALYTE
    assert "'1988-5' mapped from the laboratory's own code" in rejected.reason
    assert "'777-3' mapped" not in rejected.reason


# the kept copy keeps a mapped result's read fields whole, as a LOINC-coded one's


LONG_TEXT = "CReactiveProteinSerumPlasma2x"  # a long local code, base64-like: masked if no code


def test_a_mapped_results_code_is_kept_whole_in_the_copy() -> None:
    table = LocalCodeTable([checked_local_code("LIS", "HOSP", "L", LONG_TEXT, "1988-5")])
    text = MESSAGE.replace("CRP^C-reactive protein^L", f"{LONG_TEXT}^CRP^L")
    assert LONG_TEXT not in redact(text, keyed_hash)  # another test's: masked
    assert LONG_TEXT in redact(text, keyed_hash, table.of_sender("LIS", "HOSP"))


def test_a_rejection_kept_after_the_mapping_replays_with_its_mapped_result() -> None:
    """A long local code looks like base64: masked as another test's code, the copy would
    name no trial analyte and could not be replayed; kept whole as a mapped one's, it is."""
    table = LocalCodeTable([checked_local_code("LIS", "HOSP", "L", LONG_TEXT, "1988-5")])
    text = MESSAGE.replace("CRP^C-reactive protein^L", f"{LONG_TEXT}^CRP^L")
    message, _ = parse_oru(text, identify=keyed_hash, local_codes=table)
    patient_hmac = keyed_hash("MRN9")

    def kept(mapped: Mapping[LocalKey, str]) -> KeptRejection:
        return KeptRejection(
            uuid.uuid4(), Channel.MLLP.value, "LIS^HOSP", message.control_id,
            "unknown-source", "sender not allowed", redact(text, keyed_hash, mapped),
            datetime(2026, 11, 2, 9, 30, tzinfo=UTC), patient_hmac,
            content_digest(message, patient_hmac), None, None,
        )  # fmt: skip

    replayer = Replayer(_read_with(table), RecordingIngest())
    replayed = replayer.check(kept(table.of_sender("LIS", "HOSP")))
    assert identify_analyte(replayed.observations[0].codes) == (Analyte.CRP, "1988-5")
    with pytest.raises(ReplayRefused):  # as the copy was redacted before: not replayable
        replayer.check(kept({}))


# the HL7 flow parses and keeps the copy with the same sender's mappings


async def _mapping_table() -> LocalCodeTable:
    return LocalCodeTable([checked_local_code("LIS", "HOSP", "L", LONG_TEXT, "1988-5")])


def _flow(submit: FakeSubmit) -> Hl7Acknowledger:
    metrics = LabIngestionMetrics(CollectorRegistry())
    return Hl7Acknowledger(submit, keyed_hash, metrics, local_codes=_mapping_table)


async def test_the_flow_reads_a_mapped_code_and_keeps_it_whole_in_the_copy() -> None:
    text = MESSAGE.replace("CRP^C-reactive protein^L", f"{LONG_TEXT}^CRP^L")
    submit = FakeSubmit(lambda _: IngestOutcome.rejected(RejectionCode.MISSING_PATIENT, "no"))
    await _flow(submit).acknowledge(text.encode(), Channel.MLLP)
    (command,) = submit.commands
    assert isinstance(command, IngestLabMessage)
    assert identify_analyte(command.message.observations[0].codes) == (Analyte.CRP, "1988-5")
    assert LONG_TEXT in command.redact()


async def test_a_message_refused_at_parse_is_kept_with_its_senders_mappings() -> None:
    """Refused before the service layer (here: an unsupported version) the copy is made in
    the flow too, with the mappings of the sender its header names."""
    text = MESSAGE.replace("CRP^C-reactive protein^L", f"{LONG_TEXT}^CRP^L").replace(
        "|P|2.5.1", "|P|2.2"
    )
    submit = FakeSubmit()
    await _flow(submit).acknowledge(text.encode(), Channel.MLLP)
    (command,) = submit.commands
    assert isinstance(command, RecordRejectedInput)
    assert LONG_TEXT in command.redacted_payload


def test_an_explicitly_null_coding_system_is_none_in_the_copy_as_in_the_parse() -> None:
    """``""`` is HL7's explicit null: the parser reads no system, and so does the copy's
    lookup, so a mapping of a code sent without one keeps it whole there too."""
    table = LocalCodeTable([checked_local_code("LIS", "HOSP", "", LONG_TEXT, "1988-5")])
    text = MESSAGE.replace("CRP^C-reactive protein^L", f'{LONG_TEXT}^CRP^""')
    message, _ = parse_oru(text, identify=keyed_hash, local_codes=table)
    assert identify_analyte(message.observations[0].codes) == (Analyte.CRP, "1988-5")
    assert LONG_TEXT in redact(text, keyed_hash, table.of_sender("LIS", "HOSP"))
