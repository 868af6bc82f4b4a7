"""Review 68: a sender naming itself by HD universal ID only (the v2.5.1 LRI / ELR way)
cannot be allow-listed, and all such senders look like one.

What real senders do: the HL7 v2.5.1 Lab Results Interface (LRI) and ELR implementation
guides make MSH-3/MSH-4 an HD whose universal ID (an ISO OID) is required and whose
namespace ID is optional; conformant senders and the NIST LRI test messages write
``MSH|^~\\&#|^2.16.840.1.113883.3.72.5.20^ISO|^2.16.840.1.113883.3.72.5.21^ISO|...``. Mirth,
Rhapsody and Cloverleaf pass MSH-3/4 through untouched.

What goes wrong: ``hl7_msh.header_of`` reads only HD.1 (``field_value(msh, 3)`` /
``(msh, 4)``), so such a message's sender is ``("", "")``. ``cachexia source add`` refuses a
blank application or facility (``sender_part``), so the laboratory can never be put on
the allow-list: every result is answered AR ``unknown-source`` (sender ``'^'``). And if it
could, every OID-only sender would be the same source ``^``: their order numbers, result
chains, duplicates and sites would be mixed (a second laboratory's order ``12345`` would be
taken as a correction or duplicate of the first's).

What should happen: a sender without a namespace ID is known by its universal ID (e.g.
``2.16.840.1.113883.3.72.5.20``), distinct per OID, and can be allow-listed by it.

Suggested fix: ``adapters/hl7_msh.header_of`` (sending application/facility: HD.1, else
HD.2), and ``cachexia/sources.py`` / ``token create --sender`` to take it.
"""

from __future__ import annotations

from services.lab_ingestion.adapters.hl7_ack import build_ack
from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.hl7_msh import read_header
from services.lab_ingestion.adapters.hl7_redaction import redact

_BODY = (
    "PID|1||123456^^^HOSP&2.16.840.1.113883.3.72.5.30.2&ISO^MR\r"
    "ORC|RE|PLC1^^2.16.840.1.113883.3.72.5.24^ISO|FIL1^^2.16.840.1.113883.3.72.5.25^ISO\r"
    "OBR|1|PLC1^^2.16.840.1.113883.3.72.5.24^ISO|FIL1^^2.16.840.1.113883.3.72.5.25^ISO|"
    "1988-5^CRP^LN|||20261120081512+0100\r"
    "OBX|1|NM|1988-5^CRP^LN||12.5|mg/L^^UCUM|0-5|H|||F|||20261120081512+0100\r"
    "SPM|1|S1&&2.16.840.1.113883.3.72.5.24&ISO||119297000^Blood^SCT|||||||||||||"
    "20261120081512+0100\r"
)


def _lri(application_oid: str, facility_oid: str) -> str:
    return (
        f"MSH|^~\\&#|^{application_oid}^ISO|^{facility_oid}^ISO|"
        "^2.16.840.1.113883.3.72.5.22^ISO|^2.16.840.1.113883.3.72.5.23^ISO|"
        "20261120091512+0100||ORU^R01^ORU_R01|NIST-LRI-01|P|2.5.1|||AL|NE|||||"
        "LRI_Common_Component^^2.16.840.1.113883.9.16^ISO\r" + _BODY
    )


def test_a_sender_named_by_universal_id_only_has_a_name_to_allow() -> None:
    message, _ = parse_oru(
        _lri("2.16.840.1.113883.3.72.5.20", "2.16.840.1.113883.3.72.5.21"),
        identify=lambda s: "h" * 64,
    )
    assert message.source_application and message.source_facility, (
        f"sender read as {message.source!r}: no name `cachexia source add` can allow"
    )


def test_two_laboratories_named_by_universal_id_only_are_two_senders() -> None:
    first, _ = parse_oru(
        _lri("2.16.840.1.113883.3.72.5.20", "2.16.840.1.113883.3.72.5.21"),
        identify=lambda s: "h" * 64,
    )
    second, _ = parse_oru(_lri("1.2.756.999.1.7", "1.2.756.999.1.8"), identify=lambda s: "h" * 64)
    assert first.source != second.source, (
        f"two laboratories' OID-only senders are one source {first.source!r}: their "
        "order numbers, result chains and duplicates would be mixed"
    )


_OID = "2.16.840.1.113883.3.72.5.20"


def test_the_ack_echoes_the_senders_universal_id_as_an_hd() -> None:
    """MSH-5/MSH-6 of the ACK are the sender's MSH-3/MSH-4: its universal id and type, not
    the OID as a namespace id."""
    header = read_header(_lri(_OID, "2.16.840.1.113883.3.72.5.21"))
    assert header is not None
    assert (header.sending_application, header.sending_facility) == (
        _OID, "2.16.840.1.113883.3.72.5.21",
    )  # fmt: skip
    msh = build_ack(header, "AA", control_id="ACK-1").split("\r")[0].split("|")
    assert msh[4:6] == [f"^{_OID}^ISO", "^2.16.840.1.113883.3.72.5.21^ISO"]


def test_a_namespace_id_still_names_the_sender_and_the_ack_echoes_the_whole_hd() -> None:
    text = _lri(_OID, "1.2.3").replace(f"|^{_OID}^ISO|", f"|LIS^{_OID}^ISO|", 1)
    header = read_header(text)
    assert header is not None and header.sending_application == "LIS"
    msh = build_ack(header, "AA", control_id="A").split("\r")[0].split("|")
    assert msh[4] == f"LIS^{_OID}^ISO"


def test_a_sender_naming_neither_is_still_unnamed_and_echoed_as_sent() -> None:
    header = read_header(_lri(_OID, "1.2.3").replace(f"|^{_OID}^ISO|", "|^^ISO|", 1))
    assert header is not None and header.sending_application == ""
    assert build_ack(header, "AR", control_id="A").split("\r")[0].split("|")[4] == "^^ISO"


def test_the_redacted_copy_keeps_the_universal_ids_and_hides_the_patient() -> None:
    copy = redact(_lri(_OID, "2.16.840.1.113883.3.72.5.21"), lambda s: "h" * 64)
    assert copy.startswith(f"MSH|^~\\&#|^{_OID}^ISO|^2.16.840.1.113883.3.72.5.21^ISO|")
    assert "123456" not in copy and "HMAC:" in copy
