"""The lines of a rejected HL7 v2 message as its redaction reads them, and the values of it
that are documents rather than text (``hl7_redaction``).

A segment's name is read after any leading Unicode blank or format character (a no-break
space, a zero-width space, a byte-order mark: a message pasted from a mail or a web form), so
that ``\\u00a0PID|...`` is redacted as the PID it is, whatever the parser makes of it. A line
that is no segment HL7 defines (nor a site's Z-segment) is text after a raw line break inside
a field: after a segment about a person (PID, NK1, GT1, IN1-3, MRG, PV1) it is the rest of
that segment (a two-line address in PID-11 followed by the city, PID-13 and PID-19), and is
joined to it, so that its fields are blanked and collected as the segment's own; anywhere
else it is kept as ``[redacted]``: no scrubbing knows what such text holds. After a person
segment only the segments an ORU^R01 holds count as segments: an address broken before its
country, ``AUT`` (Austria, HL7's Authorization segment) or ``SPM`` (Saint Pierre and
Miquelon, the Specimen segment, which never follows a person), is the rest of it; so is a
``PRT`` (Portugal, the Participation segment) that names no participation (PRT-4 empty, or
PRT-2 no action code). A Z-segment there is kept as its name, its values collected as the
person's (``hl7_secrets``).

A document in a result (OBX-5 of value type ED, encapsulated data, or RP, a reference
pointer) is kept as its codes only: a laboratory's printed report, base64 one decode away,
names the patient, and so may a pointer's URL. Every run of base64 text (``base64_text``) in a
kept field is replaced too, whatever the value type, but in the header, the ids and the
fields a trial result is read from (``read_fields``): those are what a replay reads back, and
what the content digest kept with the rejection covers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from services.lab_ingestion.adapters.base64_text import masked_base64
from services.lab_ingestion.adapters.hl7_pid3 import Separators
from services.lab_ingestion.adapters.scrub import REDACTED
from services.lab_ingestion.domain.analyte_codes import identify_analyte
from services.lab_ingestion.domain.local_codes import NO_MAPPINGS, LocalKey, with_local_codes
from services.lab_ingestion.domain.model import Coding

# Segments about the patient or the people around them: a line that is no segment after one
# of them is the rest of it.
PERSON_SEGMENTS = frozenset({"PID", "NK1", "GT1", "IN1", "IN2", "IN3", "MRG", "PV1"})
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
# What an ORU^R01 (v2.5.1, PRT and ARV from later versions) may hold right after a person
# segment: its person and visit segments, notes, an order (SPM, TQ1/2, CTD, FT1 and CTI come
# only inside one), a next message's header and the continuation pointer; and the other
# person segments, which some senders write there (dropped from the copy whole).
_AFTER_A_PERSON = frozenset({"MSH", "SFT", "UAC", "PID", "PD1", "PRT", "NTE", "NK1", "ARV",
                            "PV1", "PV2", "ORC", "OBR", "OBX", "DSC", "GT1", "IN1", "IN2",
                            "IN3", "MRG"})  # fmt: skip
_PRT_ACTIONS = frozenset({"AD", "CO", "DE", "LI", "UC", "UN", "UP"})  # table 0206
_Z_SEGMENT = re.compile(r"Z[A-Z0-9]{2}")
# ED: source application ^ type of data ^ subtype ^ encoding ^ data; RP: pointer ^
# application ^ type of data ^ subtype. The components kept when they read as codes.
_DOCUMENT_CODES = {"ED": (1, 2, 3), "RP": (2, 3)}
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,31}")  # application, pdf, Base64, TEXT
# What a trial result is read from and no base64 can be part of: of its OBX the value type,
# codes (not their texts: ``_masked_code_texts``), sub-id, status and collection time; of an
# order its ids (the result keys), times and status (ORC-1, OBR-25: ``order_status``). Its
# value, unit and range are searched: base64 there is no measurement (the result is refused
# anyway), and may be a report naming the patient, one decode away.
_TRIAL_OBX_FIELDS = frozenset({2, 3, 4, 11, 14})
# OBX-3's codes and coding systems (CWE-1, 3, 4, 6, 10, 12; 0-based), never masked: every
# other component is (its texts, CWE-2, 5, 9, 11, and what is never read, the versions CWE-7
# and 8 and the OIDs after CWE-12: review 269 found base64 there kept in a trial result's)
_CODE_PARTS = frozenset({0, 2, 3, 5, 9, 11})
_TRIPLETS = (0, 3, 9)  # where each coding triplet of OBX-3 starts (0-based)
_READ_FIELDS = {"PID": frozenset({2, 3}), "ORC": frozenset({1, 2, 3, 9}),
                "OBR": frozenset({2, 3, 7, 8, 22, 25}), "SPM": frozenset({17})}  # fmt: skip


def segment_text(line: str) -> str:
    """A line without what may stand before its segment's name: blanks of any kind (a
    no-break space), format characters (a zero-width space, a byte-order mark), controls."""
    start = 0
    while start < len(line) and _padding(line[start]):
        start += 1
    return line[start:]


def kept_lines(lines: list[str], field: str) -> list[str]:
    """``lines`` with every line that is no segment joined to the person segment it follows
    (with a blank), or else kept as ``[redacted]``. Each segment is joined once, from its
    pieces: a frame of a million short lines after PID must not be copied a million times."""
    kept: list[list[str]] = []
    for line in lines:
        after_a_person = bool(kept) and kept[-1][0][:3].upper() in PERSON_SEGMENTS
        if _is_segment(line, field, after_a_person=after_a_person):
            kept.append([line])
        elif after_a_person:
            kept[-1].append(line)
        else:
            kept.append([REDACTED])
    return [" ".join(pieces) for pieces in kept]


def mask_documents(
    name: str,
    fields: list[str],
    separators: Separators,
    mapped: Mapping[LocalKey, str] = NO_MAPPINGS,
) -> None:
    """A kept segment's fields without documents, in place: OBX-5 of an ED or RP value as
    its codes only, and each run of base64 text as ``[redacted]`` in every field but those
    ``read_fields`` names (``mapped``: the sender's local code mappings)."""
    if name == "MSH":
        return
    if name == "OBX" and len(fields) > 5 and fields[5]:
        fields[5] = _document_codes(fields[2].strip().upper(), fields[5], separators)
    read = read_fields(name, fields, separators, mapped)
    for index in range(1, len(fields)):
        if fields[index] and index not in read:
            fields[index] = masked_base64(fields[index])
    if name == "OBX" and 3 in read:
        fields[3] = _masked_code_texts(fields[3], separators)


def _masked_code_texts(codes: str, separators: Separators) -> str:
    """OBX-3 with base64 masked in every component but its codes and coding systems (what
    a replay reads back, and the content digest covers)."""
    _, component, repetition, _, _ = separators
    items = []
    for item in codes.split(repetition):
        parts = item.split(component)
        for index, part in enumerate(parts):
            if index not in _CODE_PARTS and part:
                parts[index] = masked_base64(part)
        items.append(component.join(parts))
    return repetition.join(items)


def read_fields(
    name: str,
    fields: list[str],
    separators: Separators,
    mapped: Mapping[LocalKey, str] = NO_MAPPINGS,
) -> frozenset[int]:
    """The fields no base64 is looked for in: PID-3 (hashed), the ids and times of an order
    (a message id or order number may be a long mix of letters and digits, and is what a
    replay finds the message by) and what a trial analyte's OBX is read from, one named by
    the sender's local code mappings too (changed, the copy would no longer say what the
    message did, and could not be replayed)."""
    if name == "OBX" and len(fields) > 3 and _names_a_trial_analyte(fields[3], separators, mapped):
        return _TRIAL_OBX_FIELDS
    return _READ_FIELDS.get(name, frozenset())


def _names_a_trial_analyte(
    codes: str, separators: Separators, mapped: Mapping[LocalKey, str]
) -> bool:
    """Whether OBX-3, as written, names a trial analyte (``identify_analyte``), itself or by
    a mapping of a local code (``with_local_codes``): its identifier, alternate identifier
    and second alternate identifier (CWE-10) of every repetition, each with its coding
    system, as ``hl7_obx.codes_of`` reads them; HL7's explicit null ``""`` read as nothing,
    as the parser reads it."""
    _, component, repetition, _, sub = separators
    codings = []
    for item in codes.split(repetition):
        parts = [_not_null(part.split(sub)[0].strip()) for part in item.split(component)]
        for first in _TRIPLETS:
            if first < len(parts) and parts[first]:
                system = parts[first + 2] if first + 2 < len(parts) else ""
                codings.append(Coding(parts[first], system or None))
    return identify_analyte(with_local_codes(codings, mapped)) is not None


def _not_null(part: str) -> str:
    return "" if part == '""' else part


def _document_codes(value_type: str, value: str, separators: Separators) -> str:
    kept = _DOCUMENT_CODES.get(value_type)
    if kept is None:
        return value
    _, component, repetition, _, _ = separators
    return repetition.join(
        component.join(
            part if not part or (at in kept and _CODE.fullmatch(part)) else REDACTED
            for at, part in enumerate(item.split(component))
        )
        for item in value.split(repetition)
    )


def _is_segment(line: str, field: str, *, after_a_person: bool) -> bool:
    """A segment HL7 defines, or a site's Z-segment (written in capitals: ``Zug|`` is a
    city after a line break), then the field separator; right after a person segment, one
    an ORU^R01 holds there, a PRT only when it reads as one (``_reads_as_participation``)."""
    if line[3:4] not in ("", field):
        return False
    name = line[:3].upper()
    if _Z_SEGMENT.fullmatch(line[:3]):
        return True
    if not after_a_person:
        return name in _SEGMENT_NAMES
    return name in _AFTER_A_PERSON and (name != "PRT" or _reads_as_participation(line, field))


def _reads_as_participation(line: str, field: str) -> bool:
    """A PRT that names a participation (PRT-4, required) with an action code or none in
    PRT-2; ``PRT||0557412345678||...`` is an address's country and the rest of its PID."""
    fields = line.split(field)
    action = fields[2].strip().upper() if len(fields) > 2 else ""
    return len(fields) > 4 and bool(fields[4].strip()) and action in _PRT_ACTIONS | {""}


def _padding(character: str) -> bool:
    return character.isspace() or unicodedata.category(character) in ("Cf", "Cc")
