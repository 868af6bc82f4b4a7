"""Which of a patient's numbers is a record number: identifier types of HL7 table 0203 and
the local spellings labs send for them (HL7 CX-5, FHIR ``Identifier.type``)."""

from __future__ import annotations

import re

# Identifier types (HL7 table 0203) of a patient's record number: medical record, patient
# internal/external, person, enterprise, temporary record and temporary living subject
# numbers. Among one authority's numbers an MR decides; two different numbers of the others
# are ambiguous (``domain.patient_identity``).
MEDICAL_RECORD = "MR"
PATIENT_NUMBER_TYPES = frozenset({MEDICAL_RECORD, "PI", "PT", "PN", "PE", "MRT", "PNT"})
# Identifier types that are no patient's record number: account, visit, encounter, order,
# insurance, national, registry, licence, staff, specimen and organisation numbers (HL7
# table 0203). Any other code (but ``OTHER_NUMBER_WORDS``) is a local one that says nothing:
# such a number counts as untyped ("").
OTHER_NUMBER_TYPES = frozenset({
    "AC", "ACSN", "AIN", "AM", "AMA", "AN", "ANC", "AND", "ANON", "ANT", "APRN", "ASID", "BA",
    "BC", "BCFN", "BCT", "BR", "BRN", "BSNR", "CAAI", "CC", "CONM", "CY", "CZ", "DC", "DCFN",
    "DDS", "DEA", "DFN", "DI", "DL", "DN", "DO", "DP", "DPM", "DR", "DS", "DSG", "EI", "EN",
    "ESN", "FDR", "FDRFN", "FGN", "FI", "FILL", "GI", "GIN", "GL", "GN", "HC", "IND", "JHN",
    "L&I", "LACSN", "LANR", "LI", "LN", "LR", "MA", "MB", "MC", "MCD", "MCN", "MCR", "MCT",
    "MD", "MI", "MS", "NBSNR", "NCT", "NE", "NH", "NI", "NII", "NIIP", "NP", "NPI", "OBI",
    "OD", "PA", "PC", "PCN", "PEN", "PGN", "PHC", "PHE", "PHO", "PIN", "PLAC", "PPIN", "PPN",
    "PRC", "PRN", "QA", "RI", "RN", "RPH", "RR", "RRI", "RRP", "SAMN", "SB", "SID", "SL",
    "SN", "SNBSN", "SNO", "SP", "SR", "SRX", "SS", "STN", "TAX", "TN", "TPR", "TRL", "UDI",
    "UPIN", "USID", "VN", "VP", "VS", "WC", "WCN", "WP", "XV", "XX",
})  # fmt: skip
# Local spellings labs send for such numbers, and words of spelt-out names (FHIR
# ``type.text``): social security, national health service, financial, account, encounter,
# contact serial, hospital account, Swiss (AHV, AVS) and Dutch (BSN) national numbers, ...;
# any word of a code counts (``FIN NBR``, ``SSN#``, ``US Social Security Number``).
OTHER_NUMBER_WORDS = frozenset({
    "SSN", "NHS", "NHSN", "FIN", "ACCT", "ACC", "ACCOUNT", "ENC", "ENCOUNTER", "CSN", "HAR",
    "VISIT", "AHV", "AVS", "BSN", "INSURANCE", "POLICY", "SOCIAL", "PASSPORT", "DRIVER",
    "DRIVERS", "LICENSE", "LICENCE", "FINANCIAL", "MEDICARE", "MEDICAID", "EMPLOYEE",
    "BILLING", "ORDER", "SPECIMEN", "ACCESSION",
})  # fmt: skip
_OTHER_NUMBER_FIRST_WORDS = frozenset({"NATIONAL"})  # National ID, not Royal National Hospital
NATIONAL_PERSON_PREFIX = "NN"  # NNxxx: national person identifier of country xxx
_TYPE_SPELLINGS = {"MRN": MEDICAL_RECORD, "U": "", '""': ""}  # local spelling; unspecified
_WORDS = re.compile(r"[A-Z0-9&]+")
# "number" or "id" written after a type (FINNBR, VISITNO, ACCTID, MR#, MR NBR)
_NUMBER_SUFFIX = re.compile(r"(?:NUMBER|NBR|NUM|NO|ID)$")
_NUMBER_WORDS = frozenset({"NUMBER", "NBR", "NUM", "NO", "ID"})
MAX_PATIENT_NUMBERS = 32  # identifiers read of one patient (PID-3 repetitions, FHIR)


def patient_number_type(code: str) -> str | None:
    """The patient number type a code names (``PATIENT_NUMBER_TYPES``; "" for untyped and
    for a local code that names none), None when it names a number that is no patient's
    record number (``OTHER_NUMBER_TYPES``, also as a local code's first word: ``AN#``,
    ``VN NBR``, ``VNNBR``; ``OTHER_NUMBER_WORDS`` anywhere in it; national person numbers
    NNxxx). A patient number type with "number" or "id" after it is that type (``MR#``)."""
    kind = code.strip().upper()
    kind = _TYPE_SPELLINGS.get(kind, kind)
    if kind in PATIENT_NUMBER_TYPES or not kind:
        return kind
    words = [_stem(word) for word in _WORDS.findall(kind)]
    words = [word for word in words if word not in _NUMBER_WORDS]
    if (
        kind in OTHER_NUMBER_TYPES
        or (words and words[0] in OTHER_NUMBER_TYPES | _OTHER_NUMBER_FIRST_WORDS)
        or not OTHER_NUMBER_WORDS.isdisjoint(words)
        or (kind.startswith(NATIONAL_PERSON_PREFIX) and len(kind) == 5)
    ):
        return None
    if len(words) == 1:  # MR#, MR NBR, PTID: a patient number type with "number" after it
        spelled = _TYPE_SPELLINGS.get(words[0], words[0])
        if spelled in PATIENT_NUMBER_TYPES:
            return spelled
    return ""


def _stem(word: str) -> str:
    """The word without "number" or "id" written after it (FINNBR -> FIN); the word itself
    when it is nothing else (NBR)."""
    return _NUMBER_SUFFIX.sub("", word) or word
