"""Which standing results a FHIR ``cancelled`` without a value may be meant for (review
165): of the same analyte, under any sender, whose key shares an identifier with its keys
(``identifier_parts``), or whose key's parts are not known (stored before migration 0031)."""

from __future__ import annotations

from services.lab_ingestion.domain.fhir_cancellations import (
    StandingResult,
    identifier_parts,
    sharing_senders,
)
from shared.contracts.events.lab import Channel

CRP = ("1988-5",)


def test_an_hl7_key_is_its_order_number_without_the_code_and_sub_id() -> None:
    assert identifier_parts(["ORD7|1988-5|"], CRP, Channel.MLLP) == {"ORD7"}
    assert identifier_parts(["ORD7|CRP|1"], ("CRP", "1988-5"), Channel.HL7_HTTP) == {"ORD7"}
    # no order number: keyed by the collection time, no identifier
    assert identifier_parts(["@202611200815|1988-5||ab12"], CRP, Channel.MLLP) == frozenset()


def test_a_fhir_key_is_its_identifier_without_the_system_and_code() -> None:
    assert identifier_parts(["ORD7|1988-5"], CRP, Channel.FHIR) == {"ORD7"}
    assert identifier_parts(["urn:sys|ORD7|1988-5"], CRP, Channel.FHIR) == {"ORD7"}
    assert identifier_parts(["urn:lab|CX-1", "ACC-9"], CRP, Channel.FHIR) == {"CX-1", "ACC-9"}
    assert identifier_parts(["R-1"], CRP, Channel.JSON) == {"R-1"}


def _standing(
    source: str, key: str, parts: set[str] | None, analyte: str = "crp"
) -> StandingResult:
    return StandingResult(source, key, analyte, None if parts is None else frozenset(parts))


def test_the_senders_holding_a_result_sharing_an_identifier() -> None:
    hl7 = _standing("LIS^HOSP", "ORD7|1988-5|", {"ORD7"})
    other_order = _standing("LIS^HOSP", "ORD8|1988-5|", {"ORD8"})
    anc = _standing("LIS^HOSP", "ORD7|751-8|", {"ORD7"}, analyte="neutrophils")
    keys, parts = frozenset({"ORD7|1988-5"}), frozenset({"ORD7"})
    shared = sharing_senders("lab^FHIR", "crp", keys, parts, [hl7, other_order, anc])
    assert shared == {"LIS^HOSP"}
    assert sharing_senders("lab^FHIR", "crp", keys, parts, [other_order, anc]) == frozenset()


def test_its_own_token_counts_under_another_key_only() -> None:
    own_other = _standing("lab^FHIR", "urn:sys|ORD7|1988-5", {"ORD7"})
    own_same = _standing("lab^FHIR", "ORD7|1988-5", {"ORD7"})
    keys, parts = frozenset({"ORD7|1988-5"}), frozenset({"ORD7"})
    assert sharing_senders("lab^FHIR", "crp", keys, parts, [own_other]) == {"lab^FHIR"}
    assert sharing_senders("lab^FHIR", "crp", keys, parts, [own_same]) == frozenset()
    # the same key under another sender's name (a token replaced), whatever its parts
    renamed = _standing("old^FHIR", "ORD7|1988-5", set())
    assert sharing_senders("lab^FHIR", "crp", keys, parts, [renamed]) == {"old^FHIR"}


def test_a_result_stored_before_its_parts_were_kept_may_be_it() -> None:
    before = _standing("LIS^HOSP", "#00", None)
    keys, parts = frozenset({"ORD7|1988-5"}), frozenset({"ORD7"})
    assert sharing_senders("lab^FHIR", "crp", keys, parts, [before]) == {"LIS^HOSP"}
