"""Which bodies each HTTP route takes by their Content-Type (``media_types``), fast."""

from __future__ import annotations

import hashlib
import re

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.entrypoints.media_types import (
    FHIR_RULE,
    HL7_RULE,
    JSON_RULE,
    NAMED_TYPES,
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
        # review 118: what real senders declare
        (JSON_RULE, ["application/json; charset=us-ascii"]),  # ASCII is UTF-8
        (JSON_RULE, ["application/json", "application/json; charset=utf-8"]),  # one meaning
        (JSON_RULE, ["application/json, application/json"]),  # folded by a proxy
        (JSON_RULE, ["application/json; charset=UTF8", "application/json;charset=ascii"]),
        (JSON_RULE, ["text/json"]),
        (JSON_RULE, ["text/plain; charset=ISO-8859-1"]),  # Mirth's, Java StringEntity's
        (JSON_RULE, ["application/json; charset=latin-1"]),  # a body of ASCII: read the same
        (FHIR_RULE, ["application/fhir+json; charset=us-ascii"]),
        (FHIR_RULE, ["application/fhir+json", "application/fhir+json; fhirVersion=4.0"]),
        (FHIR_RULE, ["text/plain; charset=ISO-8859-1"]),
        (FHIR_RULE, ["text/json"]),
    ],
)
def test_the_routes_own_types_and_none_are_taken(rule: MediaRule, declared: list[str]) -> None:
    check_media_type(declared, rule, BODY)


@pytest.mark.parametrize(
    ("rule", "declared", "said"),
    [
        (JSON_RULE, ["application/xml"], "declared application/xml"),
        (JSON_RULE, ["application/x-www-form-urlencoded"], "x-www-form-urlencoded"),
        (JSON_RULE, ["multipart/form-data; boundary=xyz"], "multipart/form-data"),
        (JSON_RULE, ["application/json; charset=utf-16"], "character set utf-16"),
        (JSON_RULE, ["application/json, text/html"], "more than one Content-Type"),  # folded
        (JSON_RULE, ["application/json", "application/json; charset=latin-1"], "more than one"),
        (FHIR_RULE, ["application/fhir+json", "text/xml"], "more than one Content-Type"),
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


@pytest.mark.parametrize("rule", [JSON_RULE, FHIR_RULE])
@pytest.mark.parametrize(
    "declared", ["text/plain; charset=ISO-8859-1", "application/json; charset=windows-1252"]
)
def test_a_body_beyond_ascii_in_another_character_set_is_refused(
    rule: MediaRule, declared: str
) -> None:
    """Review 118: an ISO-8859-1 body is taken when it is pure ASCII (read the same as
    UTF-8); one holding another byte (``é`` as 0xE9) would be misread: 415, saying so."""
    body = '{"note": "Fieber, Müdigkeit"}'.encode("latin-1")
    with pytest.raises(UnreadableBody) as raised:
        check_media_type([declared], rule, body)
    assert raised.value.status == 415
    assert "holds bytes beyond ASCII, which would be misread" in raised.value.reason
    check_media_type([declared], rule, '{"note": "Fieber"}'.encode("latin-1"))


PHI_TOKENS = st.from_regex(r"(mrn|pid|ahv)?[0-9]{4,13}(-[0-9]{8})?", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    rule=st.sampled_from([JSON_RULE, FHIR_RULE, HL7_RULE]),
    kind=st.sampled_from(["text", "application", "x-application", "mrn4711"]),
    subtype=st.tuples(st.sampled_from(["", "x-", "vnd."]), PHI_TOKENS).map("".join),
)
def test_a_declared_type_of_no_known_list_is_told_by_its_length(
    rule: MediaRule, kind: str, subtype: str
) -> None:
    """Review 125: ``text/mrn4711-19580214`` was quoted in the 415's reason, the kept
    rejection and its lab.rejected.v1 event: any token-shaped type was. A type the list
    does not name is told by its length."""
    declared = f"{kind}/{subtype}"
    with pytest.raises(UnreadableBody) as raised:
        check_media_type([declared], rule, BODY)
    reason = raised.value.reason
    # the body's digest is hex, so it may hold the digits drawn (``5029`` in ``a35029``)
    unquoted = re.sub(r"sha256 [0-9a-f]{64}", "sha256 <digest>", reason)
    assert subtype not in unquoted and kind not in unquoted.split("; this route")[0]
    assert f"another media type ({len(declared)} characters)" in reason


@settings(max_examples=100, deadline=None)
@given(rule=st.sampled_from([JSON_RULE, FHIR_RULE]), charset=PHI_TOKENS)
def test_a_declared_character_set_of_no_known_list_is_told_by_its_length(
    rule: MediaRule, charset: str
) -> None:
    body = '{"note": "Müdigkeit"}'.encode("latin-1")
    with pytest.raises(UnreadableBody) as raised:
        check_media_type([f"application/json; charset={charset}"], rule, body)
    # the body's SHA-256 (hex) is named too: a drawn "3818" may well be in it
    assert charset not in re.sub(r"sha256 [0-9a-f]{64}", "", raised.value.reason)
    assert f"another character set ({len(charset)} characters)" in raised.value.reason


@pytest.mark.parametrize(
    "declared",
    sorted(
        NAMED_TYPES - JSON_RULE.accepted - {"application/octet-stream", "application/fhir+json"}
    ),
)
def test_a_known_type_is_named(declared: str) -> None:
    with pytest.raises(UnreadableBody) as raised:
        check_media_type([declared], JSON_RULE, BODY)
    assert f"declared {declared};" in raised.value.reason
