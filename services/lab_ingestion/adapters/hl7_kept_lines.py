"""The lines of a rejected HL7 v2 message as its redaction reads them, and the values of it
that are documents rather than text (``hl7_redaction``).

A segment's name is read after any leading Unicode blank or format character (a no-break
space, a zero-width space, a byte-order mark: a message pasted from a mail or a web form), so
that ``\\u00a0PID|...`` is redacted as the PID it is, whatever the parser makes of it. A line
that is no segment HL7 defines (nor a site's Z-segment) is text after a raw line break inside
a field: after a segment about a person (PID, NK1, GT1, IN1-3, MRG, PV1) it is the rest of
that segment (a two-line address in PID-11 followed by the city, PID-13 and PID-19), and is
joined to it, so that its fields are blanked and collected as the segment's own; anywhere
else it is kept as ``[redacted]``: no scrubbing knows what such text holds.

A document in a result (OBX-5 of value type ED, encapsulated data, or RP, a reference
pointer) is kept as its codes only: a laboratory's printed report, base64 one decode away,
names the patient, and so may a pointer's URL. Every run of base64 text in a kept field (but
the header's and the ids, ``hl7_redaction``) is replaced too, whatever the value type.
"""

from __future__ import annotations

import re
import unicodedata

from services.lab_ingestion.adapters.hl7_pid3 import Separators
from services.lab_ingestion.adapters.scrub import REDACTED

# Segments about the patient or the people around them: a line that is no segment after one
# of them is the rest of it.
_PERSON_SEGMENTS = frozenset({"PID", "NK1", "GT1", "IN1", "IN2", "IN3", "MRG", "PV1"})
# The segments HL7 v2.5.1 defines (chapters 2 to 17).
_V251_SEGMENTS = """
    ABS ACC ADD ADJ AFF AIG AIL AIP AIS AL1 APR ARQ ARV AUT BHS BLC BLG BPO BPX BTS BTX CDM
    CER CM0 CM1 CM2 CNS CON CSP CSR CSS CTD CTI DB1 DG1 DMI DON DRG DSC DSP ECD ECR EDU EQP
    EQU ERR EVN FAC FHS FT1 FTS GOL GP1 GP2 GT1 IAM IIM ILT IN1 IN2 IN3 INV IPC IPR ISD ITM
    IVC IVT LAN LCC LCH LDP LOC LRL MFA MFE MFI MRG MSA MSH NCK NDS NK1 NPU NSC NST NTE OBR
    OBX ODS ODT OM1 OM2 OM3 OM4 OM5 OM6 OM7 ORC ORG OVR PAC PCE PCR PD1 PDA PDC PEO PES PID
    PKG PMT PR1 PRA PRB PRC PRD PRT PSG PSH PSL PSS PTH PV1 PV2 PYE QAK QID QPD QRD QRF QRI
    RCP RDF RDT REL RF1 RFI RGS RMI ROL RQ1 RQD RXA RXC RXD RXE RXG RXO RXR RXV SAC SCD SCH
    SCP SDD SFT SHP SID SLT SPM STF STZ TCC TCD TQ1 TQ2 TXA UAC UB1 UB2 URD URS VAR VND
"""
_SEGMENT_NAMES = frozenset(_V251_SEGMENTS.split())
_Z_SEGMENT = re.compile(r"Z[A-Z0-9]{2}")
# ED: source application ^ type of data ^ subtype ^ encoding ^ data; RP: pointer ^
# application ^ type of data ^ subtype. The components kept when they read as codes.
_DOCUMENT_CODES = {"ED": (1, 2, 3), "RP": (2, 3)}
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,31}")  # application, pdf, Base64, TEXT
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")  # 18 bytes or more


def segment_text(line: str) -> str:
    """A line without what may stand before its segment's name: blanks of any kind (a
    no-break space), format characters (a zero-width space, a byte-order mark), controls."""
    start = 0
    while start < len(line) and _padding(line[start]):
        start += 1
    return line[start:]


def kept_lines(lines: list[str], field: str) -> list[str]:
    """``lines`` with every line that is no segment joined to the person segment it follows
    (with a blank), or else kept as ``[redacted]``."""
    kept: list[str] = []
    for line in lines:
        if _is_segment(line, field):
            kept.append(line)
        elif kept and kept[-1][:3].upper() in _PERSON_SEGMENTS:
            kept[-1] = f"{kept[-1]} {line}"
        else:
            kept.append(REDACTED)
    return kept


def kept_value(name: str, fields: list[str], index: int, separators: Separators) -> str:
    """A field of a kept segment without documents: OBX-5 of an ED or RP value as its codes
    only, and in any field each run of base64 text (one with upper and lower case letters,
    as encoded data has) as ``[redacted]``."""
    value = fields[index]
    if name == "OBX" and index == 5 and len(fields) > 2:
        value = _document_codes(fields[2].strip().upper(), value, separators)
    return _BASE64_RUN.sub(_masked_base64, value)


def _document_codes(value_type: str, value: str, separators: Separators) -> str:
    kept = _DOCUMENT_CODES.get(value_type)
    if kept is None or not value:
        return value
    _, component, repetition, _, _ = separators
    return repetition.join(
        component.join(
            part if not part or (at in kept and _CODE.fullmatch(part)) else REDACTED
            for at, part in enumerate(item.split(component))
        )
        for item in value.split(repetition)
    )


def _masked_base64(run: re.Match[str]) -> str:
    text = run.group()
    encoded = any(c.isupper() for c in text) and any(c.islower() for c in text)
    return REDACTED if encoded else text


def _is_segment(line: str, field: str) -> bool:
    """A segment HL7 defines, or a site's Z-segment (written in capitals: ``Zug|`` is a
    city after a line break), then the field separator."""
    known = line[:3].upper() in _SEGMENT_NAMES or _Z_SEGMENT.fullmatch(line[:3]) is not None
    return known and line[3:4] in ("", field)


def _padding(character: str) -> bool:
    return character.isspace() or unicodedata.category(character) in ("Cf", "Cc")
