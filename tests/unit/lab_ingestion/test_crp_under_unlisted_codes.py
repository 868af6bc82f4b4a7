"""A CRP under a code the trial does not list (review 155): ``48421-2^CRP^LN`` beside a
neutrophil count was answered AA, the CRP neither stored nor refused. A result named as CRP
(OBX-3's texts, FHIR ``code.text`` and codings' display; English, German, French, Italian)
whose codes name no trial analyte, nor are mapped by its sender, and which holds a
measurement, refuses its message ``unknown-analyte`` at that result, with what to do; its
code is never read as CRP's. Comments about a CRP, coded or text answers, ratios, pending
results and cancellations are left out as before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation
from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.fhir_parser import parse_observation
from services.lab_ingestion.adapters.fhir_status import of_a_trial_analyte
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.analyte_names import (
    holds_a_measurement,
    named_analyte,
    unlisted_analyte,
)
from services.lab_ingestion.domain.local_codes import LocalCodeTable, checked_local_code
from services.lab_ingestion.domain.model import Coding, Rejected, RejectionCode
from services.lab_ingestion.domain.normalise import DEFAULT_UNIT_PARAMETERS
from services.lab_ingestion.domain.planning import PlannedResult, plan_results
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.fhir_samples import parsed_bundle
from tests.unit.lab_ingestion.hl7_samples import FAST, fake_hash

HEAD = [
    "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1",
    "PID|1||MRN9^^^HOSP^MR",
    "OBR|1|PLC1|F9|LAB^Lab panel|||20261120070000+0000",
]
ANC = "OBX|1|NM|751-8^Neutrophils^LN||2.1|10*9/L|1.8-7.5||||F|||20261120070000+0000"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
NAMES = [
    "CRP", "hs-CRP", "hsCRP", "C-reactive protein", "C-reaktives Protein",
    "protéine C réactive", "proteina C reattiva", "CRP (POC, capillary)", "POC CRP",
    "C reactive protein [Mass/volume] in Capillary blood",
    # review 165: specimen prefixes, a unit in brackets, specimen and method words
    "S-CRP", "P-CRP", "B-CRP", "Se-CRP", "Pl-CRP", "VB-CRP", "CRP (mg/L)", "CRPhs", "CRP hs",
    "CRP, quantitativ", "CRP hochsensitiv", "CRP Vollblut kapillär", "CRP sang total",
    "CRP point of care", "CRP cardio", "CRP turbidimetric", "CRP Serum", "hs-CRP [mg/dL]",
    "C reactive protein [Mass/volume] in Serum or Plasma by High sensitivity method",
]  # fmt: skip
NOT_NAMES = [
    "CRPX", "Procalcitonin", "Protein C activity", "Protein C antigen", "CRP comment",
    "Kommentar CRP", "CRP/Albumin ratio", "Note on hs-CRP", "Interpretation CRP", "ACRP",
    "Neutrophils", "",
    # review 165: a word the rule does not know makes the name another test's (a previous
    # value, a ratio, a time, a dilution, a quality control, a device: left out as before)
    "CRP/Albumin", "CRP/ALB", "CAR (CRP/Albumin)", "CRP Vorwert", "CRP Messzeit",
    "CRP dilution", "CRP delta", "CRP Trend", "CRP Referenz", "CRP Grenzwert", "CRP QC",
    "CRP lot", "CRP/PCT", "Anti-CRP", "hsCRP risk category", "CRP Afinion", "CRP 2",
    "C-reactive protein ratio",
]  # fmt: skip


def crp(obx3: str, value: str = "45", kind: str = "NM", status: str = "F") -> str:
    return f"OBX|2|{kind}|{obx3}||{value}|mg/L|0-5|H|||{status}|||20261120070000+0000"


def planned(*obx: str, table: LocalCodeTable | None = None) -> list[PlannedResult] | Rejected:
    message, _ = parse_oru("\r".join([*HEAD, *obx]), identify=fake_hash,
                           local_codes=table or LocalCodeTable())  # fmt: skip
    return plan_results(message, DEFAULT_UNIT_PARAMETERS, NOW)


@pytest.mark.parametrize("name", NAMES)
def test_crp_is_told_by_its_name_in_each_language(name: str) -> None:
    assert named_analyte([name]) is Analyte.CRP


@pytest.mark.parametrize("name", NOT_NAMES)
def test_a_word_holding_crp_a_comment_a_ratio_or_another_test_is_no_crp(name: str) -> None:
    assert named_analyte([name]) is None


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzCRP", min_size=1, max_size=12))
@FAST
def test_crp_inside_another_word_never_names_it(word: str) -> None:
    """``CRP`` is a word of its own or nothing: letters around it make another word."""
    glued = f"{word}CRP" if word[-1:].isalpha() else f"x{word}CRP"
    assert named_analyte([glued]) is None or glued.casefold() in {"hscrp"}


@given(
    st.sampled_from(NAMES),
    st.text(alphabet=" -_/(),.:", min_size=1, max_size=3),
    st.sampled_from(["POC", "Kapillar", "capillaire", "mg/L", "quant"]),
)
@FAST
def test_a_crp_name_with_words_around_it_is_still_crp(name: str, gap: str, word: str) -> None:
    assert named_analyte([f"{name}{gap}{word}"]) is Analyte.CRP
    assert named_analyte([f"{word}{gap}{name}"]) is Analyte.CRP


@pytest.mark.parametrize(
    ("value", "kind", "measured"),
    [
        ("45", "NM", True), ("<5", "SN", True), ("12,5", "ST", True), ("12.5 mg/L", "", False),
        ("<5", "", True), ("95'000", "TX", True), ("see comment", "FT", False),
        (">200", "", True), ("5,2", "ST", True), ("08:15", "ST", False), ("08:15", "NM", False),
        ("1:10", "SN", False), ("1:10", "ST", False), ("2026-11-20", "ST", False),
        ("2026-11-20", "NM", False), ("12 mg/L", "NM", False),
        ("Kontrolle in 24h", "TX", False), ("24h Kontrolle", "ST", False),
        ("POS", "CWE", False), ("45", "CE", False), ("", "NM", False), ("  ", "ST", False),
    ],
)  # fmt: skip
def test_only_a_measurement_is_held_to_be_a_result(value: str, kind: str, measured: bool) -> None:
    assert holds_a_measurement(value, kind) is measured


@given(st.text(max_size=60), st.sampled_from(["", "ST", "TX", "FT", "CWE", "ED"]))
@FAST
def test_a_text_is_a_measurement_only_when_it_starts_with_its_number(text: str, kind: str) -> None:
    if holds_a_measurement(text, kind):
        assert text.strip().lstrip("<>=≤≥ +-.")[:1].isdigit()
        assert not set(text) & set(":/ abcdefghijklmnopqrstuvwxyz")


def test_codes_the_trial_reads_are_never_refused_by_a_name() -> None:
    listed = [Coding("1988-5", "LN", "Neutrophils"), Coding("751-8", "LN", "CRP")]
    for coding in listed:
        assert unlisted_analyte([coding], ["CRP"], "45", "NM", "F") is None
    misfiled = Coding("1988-5", "99LAB", "CRP")  # refused as a misfiled LOINC code instead
    assert unlisted_analyte([misfiled], ["CRP"], "45", "NM", "F") is None


@pytest.mark.parametrize("status", ["I", "O", "N", "X", "D", "W"])
def test_pending_and_cancelled_results_are_left_out(status: str) -> None:
    assert unlisted_analyte([Coding("48421-2", "LN")], ["CRP"], "45", "NM", status) is None


@pytest.mark.parametrize(
    "obx3",
    [
        "48421-2^CRP^LN", "71426-1^C-reactive protein^LN", "48421-2^^LN^^hs-CRP",
        "CRPPOC^CRP POC^L", "^CRP", "CRPK^protéine C réactive^99LAB",
        "11111-1^Proteina C reattiva^LN",
    ],
)  # fmt: skip
def test_a_crp_under_an_unlisted_code_refuses_the_message_at_its_obx(obx3: str) -> None:
    rejected = planned(ANC, crp(obx3))
    assert isinstance(rejected, Rejected), rejected
    assert rejected.code is RejectionCode.UNKNOWN_ANALYTE and rejected.observation == 1
    assert rejected.reason.startswith("send the CRP (by its name in OBX-3) ")
    assert " as 1988-5" in rejected.reason[:80]
    assert "(PROTOCOL section 6: 1988-5, 30522-7" in rejected.reason


def test_the_reason_quotes_a_loinc_code_and_says_it_is_not_mapped() -> None:
    rejected = planned(ANC, crp("48421-2^CRP^LN"))
    assert isinstance(rejected, Rejected)
    assert rejected.reason == (
        "send the CRP (by its name in OBX-3) coded '48421-2' under 'LN' as 1988-5: the trial "
        "does not list its code (PROTOCOL section 6: 1988-5, 30522-7; a LOINC code is never "
        "mapped)"
    )


def test_a_local_code_is_never_quoted_and_its_mapping_is_offered() -> None:
    rejected = planned(ANC, crp("CRPPOC^CRP kapillär^L"))
    assert isinstance(rejected, Rejected)
    assert "CRPPOC" not in rejected.reason and "kapill" not in rejected.reason
    assert rejected.reason == (
        "send the CRP (by its name in OBX-3) coded locally (system 'L') as 1988-5, or have "
        "the trial map the code (cachexia source code add): the trial does not list its code "
        "(PROTOCOL section 6: 1988-5, 30522-7)"
    )


def test_a_mapped_local_code_is_read_as_the_crp_it_is() -> None:
    table = LocalCodeTable([checked_local_code("LIS", "HOSP", "L", "CRPPOC", "1988-5")])
    stored = planned(ANC, crp("CRPPOC^CRP POC^L"), table=table)
    assert isinstance(stored, list) and len(stored) == 2, stored


@pytest.mark.parametrize(
    "obx",
    [
        crp("48421-2^CRP comment^LN", "haemolysed", "FT"),
        crp("CRPK^CRP Kommentar^L", "12", "ST"),
        crp("CRPI^CRP^L", "see report", "TX"),
        crp("CRPQ^CRP^L", "POS", "CWE"),
        crp("48421-2^CRP^LN", "", "NM", "I"),
        crp("48421-2^CRP^LN", "", "NM", "X"),
        crp("99999-9^CRP/Albumin ratio^LN", "4.1"),
        crp("2345-7^Glucose^LN", "5.4"),
    ],
)
def test_comments_answers_ratios_and_other_tests_are_left_out_as_before(obx: str) -> None:
    stored = planned(ANC, obx)
    assert isinstance(stored, list) and len(stored) == 1, stored


@pytest.mark.parametrize(
    "obx",
    [
        "OBX|3|NM|CAR^CRP/Albumin^99LAB||0.45||||||F|||20261120070000+0000",
        "OBX|3|NM|CRPV^CRP Vorwert^99LAB||12|mg/L|||||F|||20261120070000+0000",
        "OBX|3|ST|CRPT^CRP Messzeit^99LAB||08:15||||||F|||20261120070000+0000",
        "OBX|3|NM|CRPDIL^CRP dilution^99LAB||10||||||F|||20261120070000+0000",
        "OBX|3|SN|CRPTI^CRP^99LAB||^1^:^10||||||F|||20261120070000+0000",
    ],
)
def test_a_result_about_a_crp_beside_one_leaves_the_message_stored(obx: str) -> None:
    """Review 165: a grade-4 neutrophil count, a CRP under its listed code, and a test about
    a CRP (a ratio, a previous value, a time, a dilution) were answered AE, nothing stored."""
    anc = ANC.replace("|2.1|", "|0.3|")
    stored = planned(anc, crp("1988-5^CRP^LN"), obx)
    assert isinstance(stored, list), stored
    assert [r.analyte for _, r in stored if r is not None] == [Analyte.NEUTROPHILS, Analyte.CRP]


def test_a_name_beside_the_crp_name_that_says_more_is_read_as_another_test() -> None:
    """Every name a result carries must be a CRP's: one that says something else (a
    previous value) makes it a result the trial does not read, left out as before."""
    assert named_analyte(["CRP", "CRP Vorwert"]) is None
    assert named_analyte(["CRP", "Procalcitonin"]) is None
    assert named_analyte(["CRP", "C-reactive protein"]) is Analyte.CRP


def test_an_order_named_crp_is_not_read() -> None:
    head = [*HEAD[:2], "OBR|1|PLC1|F9|CRP^CRP order^L|||20261120070000+0000"]
    message, _ = parse_oru("\r".join([*head, ANC]), identify=fake_hash)
    stored = plan_results(message, DEFAULT_UNIT_PARAMETERS, NOW)
    assert isinstance(stored, list) and len(stored) == 1


def fhir_crp(loinc: str, **more: Any) -> dict[str, Any]:
    coding = {"system": "http://loinc.org", "code": loinc, **more.pop("coding", {})}
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:lab", "value": "OBS-9"}],
        "status": more.pop("status", "final"),
        "code": {"coding": [coding], **more.pop("code", {})},
        "subject": {"identifier": {"system": "urn:hosp", "value": "MRN4711"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 45, "unit": "mg/L", "system": "http://unitsofmeasure.org",
                          "code": "mg/L"},
        **more,
    }  # fmt: skip


@pytest.mark.parametrize(
    "resource",
    [
        fhir_crp("48421-2", coding={"display": "CRP"}),
        fhir_crp("71426-1", code={"text": "C-reaktives Protein"}),
    ],
)
def test_a_fhir_crp_under_an_unlisted_code_is_refused_not_ignored(resource: dict[str, Any]) -> None:
    bundle = parsed_bundle("batch", resource)
    message = bundle.entries[0].message
    assert message is not None and not bundle.entries[0].ignored
    rejected = plan_results(message, DEFAULT_UNIT_PARAMETERS, NOW)
    assert isinstance(rejected, Rejected) and rejected.code is RejectionCode.UNKNOWN_ANALYTE
    assert rejected.reason.startswith("send the CRP (by its name in Observation.code) coded '")
    assert rejected.reason.endswith("30522-7; a LOINC code is never mapped)")


@pytest.mark.parametrize(
    "resource",
    [
        fhir_crp("48421-2", coding={"display": "CRP comment"}),
        fhir_crp("2345-7", coding={"display": "Glucose"}),
        fhir_crp("48421-2", coding={"display": "CRP"}, status="registered"),
        fhir_crp("CAR", coding={"system": "urn:lab:codes"}, code={"text": "CRP/Albumin"},
                 valueQuantity={"value": 0.45}),
        {**fhir_crp("48421-2", code={"text": "CRP"}), "valueQuantity": None,
         "valueString": "see report"},
    ],
)  # fmt: skip
def test_a_fhir_comment_or_another_test_is_still_ignored(resource: dict[str, Any]) -> None:
    resource = {k: v for k, v in resource.items() if v is not None}
    assert parsed_bundle("batch", resource).entries[0].ignored


def test_a_lone_fhir_crp_under_an_unlisted_code_gets_its_own_reason() -> None:
    message = parse_observation(fhir_crp("48421-2", coding={"display": "hs-CRP"}), "t", "FHIR")
    rejected = plan_results(message, DEFAULT_UNIT_PARAMETERS, NOW)
    assert isinstance(rejected, Rejected) and rejected.observation == 0
    assert rejected.reason.startswith("send the CRP (by its name in Observation.code)")


def test_the_fhir_gate_reads_the_names_the_parser_keeps() -> None:
    resource = fhir_crp("48421-2", code={"text": "proteina C reattiva"})
    assert of_a_trial_analyte(Observation.model_validate(resource))
    message = parse_observation(resource, "t", "FHIR")
    assert message.observations[0].names == ("proteina C reattiva",)
