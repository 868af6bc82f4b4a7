"""Which bodies each HTTP route takes by their Content-Type (``media_types``), fast."""

from __future__ import annotations

import hashlib

import pytest

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.media_types import (
    FHIR_RULE,
    HL7_RULE,
    JSON_RULE,
    MediaRule,
    check_media_type,
)
from services.lab_ingestion.entrypoints.request_body import UnreadableBody

BODY = b'{"message_id": "M-1"}'


@pytest.mark.parametrize(
    ("rule", "declared"),
    [
        (JSON_RULE, []),
        (JSON_RULE, [""]),
        (JSON_RULE, ["application/octet-stream"]),
        (JSON_RULE, ["application/json"]),
        (JSON_RULE, ['Application/JSON ; Charset="UTF-8"']),
        (JSON_RULE, ["application/problem+json"]),
        (FHIR_RULE, ["application/fhir+json; fhirVersion=4.0"]),
        (FHIR_RULE, ["application/json+fhir"]),
        (HL7_RULE, ["x-application/hl7-v2+er7"]),
        (HL7_RULE, ["text/plain; charset=iso-8859-1"]),  # MSH-18 names the set
    ],
)
def test_the_routes_own_types_and_none_are_taken(rule: MediaRule, declared: list[str]) -> None:
    check_media_type(declared, rule, BODY)


@pytest.mark.parametrize(
    ("rule", "declared", "said"),
    [
        (JSON_RULE, ["application/xml"], "declared application/xml"),
        (JSON_RULE, ["text/plain"], "declared text/plain"),
        (JSON_RULE, ["application/x-www-form-urlencoded"], "x-www-form-urlencoded"),
        (JSON_RULE, ["multipart/form-data; boundary=xyz"], "multipart/form-data"),
        (JSON_RULE, ["application/json; charset=latin-1"], "character set latin-1"),
        (JSON_RULE, ["json"], "no media type"),
        (JSON_RULE, ["application/json", "text/html"], "more than one Content-Type"),
        (FHIR_RULE, ["application/fhir+xml"], "FHIR XML is not supported: only JSON is"),
        (FHIR_RULE, ["text/xml"], "only JSON is"),
        (HL7_RULE, ["application/json"], "declared application/json"),
        (HL7_RULE, ["application/hl7v2+xml"], "declared application/hl7v2+xml"),
    ],
)
def test_another_type_is_refused_415_naming_what_the_route_takes(
    rule: MediaRule, declared: list[str], said: str
) -> None:
    with pytest.raises(UnreadableBody) as raised:
        check_media_type(declared, rule, BODY)
    error = raised.value
    assert (error.status, error.code) == (415, RejectionCode.UNSUPPORTED_MESSAGE)
    assert said in error.reason and f"this route takes {rule.takes}" in error.reason
    assert hashlib.sha256(BODY).hexdigest() in error.reason  # kept by its digest only


@pytest.mark.parametrize(
    "declared", ["application/Hans Muster", "text/Muster,Hans", "Muster/" + "x" * 70]
)
def test_a_declared_type_is_quoted_only_when_it_reads_as_one(declared: str) -> None:
    """The header is the sender's text: never quoted unless it is a short media type."""
    with pytest.raises(UnreadableBody) as raised:
        check_media_type([declared], JSON_RULE, BODY)
    assert "uster" not in raised.value.reason
