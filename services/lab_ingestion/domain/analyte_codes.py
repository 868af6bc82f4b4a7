"""Which trial analyte a result is, by its LOINC codes (PROTOCOL section 6). Pure: no I/O.

The first LOINC coding of a trial analyte identifies the result (a code of the protocol's
table before one of the same measurement's other codes); any other LOINC code beside it that
names another test, and another trial analyte's code under any other coding system's name
(``other_tests``), leaves which test was measured a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

from services.lab_ingestion.domain.model import Coding
from shared.contracts.events.lab import Analyte

LOINC_CODES: Final[Mapping[str, Analyte]] = MappingProxyType(
    {
        "1988-5": Analyte.CRP,
        "30522-7": Analyte.CRP,
        "751-8": Analyte.NEUTROPHILS,
        "26499-4": Analyte.NEUTROPHILS,
        "777-3": Analyte.PLATELETS,
        "26515-7": Analyte.PLATELETS,
        "718-7": Analyte.HAEMOGLOBIN,
        "1742-6": Analyte.ALT,
        "1920-8": Analyte.AST,
        "1975-2": Analyte.BILIRUBIN,
        "2160-0": Analyte.CREATININE,
        "14682-9": Analyte.CREATININE,
    }
)

# LOINC codes of the same measurement as a trial analyte's (same component, same system, a
# count or a concentration of the same substance), in another unit kind or by another method:
# total bilirubin and haemoglobin in moles (the umol/L and mmol/L PROTOCOL section 6
# converts), the manual counts a smear review reports (often the most severe neutropenias),
# ALT and AST by the IFCC method with P-5'-P, CRP and hs-CRP in moles (the nmol/L PROTOCOL
# section 6 converts; the Swiss ch-lab-order compendium codes CRP so). Beside that
# analyte's own code they name the same test; alone they identify the analyte too (the unit
# is checked as for any result), and the result is published under the code the laboratory
# sent.
SAME_TEST_CODES: Final[Mapping[str, Analyte]] = MappingProxyType(
    {
        "14631-6": Analyte.BILIRUBIN,  # Bilirubin.total [Moles/volume] in Serum or Plasma
        "59260-0": Analyte.HAEMOGLOBIN,  # Hemoglobin [Moles/volume] in Blood
        "753-4": Analyte.NEUTROPHILS,  # Neutrophils [#/volume] in Blood by Manual count
        "778-1": Analyte.PLATELETS,  # Platelets [#/volume] in Blood by Manual count
        "76485-2": Analyte.CRP,  # C reactive protein [Moles/volume] in Serum or Plasma
        "76486-0": Analyte.CRP,  # the same by High sensitivity method
        "1743-4": Analyte.ALT,  # ALT [Enzymatic activity/volume] by With P-5'-P
        "30239-8": Analyte.AST,  # AST [Enzymatic activity/volume] by With P-5'-P
    }
)

# how a LOINC code is written: its number and, after a hyphen, its check digit
LOINC_CODE: Final = re.compile(r"[0-9]{1,7}-[0-9]")

# LOINC's OID is written bare in HL7 v2 (an ELR feed's or an HIE's OBX-3.3), as a URN in FHIR
LOINC_OID: Final = "2.16.840.1.113883.6.1"
LOINC_SYSTEMS: Final = frozenset(
    {"ln", "loinc", "http://loinc.org", LOINC_OID, f"urn:oid:{LOINC_OID}"}
)
# UMLS's abbreviation of LOINC, which some laboratory systems write in CWE-3: LOINC's only
# where the code is a LOINC code with its check digit right (``is_loinc_code``)
UMLS_LOINC: Final = "lnc"


def identify_analyte(codes: Sequence[Coding]) -> tuple[Analyte, str] | None:
    """The first trial analyte among LOINC codings (a missing system counts as LOINC), and
    the code that names it: the first of the protocol's table, else the first of the same
    measurement's other codes (``SAME_TEST_CODES``), as the laboratory sent it. OBX-3's
    second alternate codes (``Coding.second_alternate``, read since fixer 267) only when the
    others name none: they never change which code names a result that CWE-1 to 6 name
    (``76485-2^CRP^LN^^^^^^^1988-5^^LN`` is published under 76485-2, as before; review 269:
    it was taken for 1988-5, and its restatement refused as another sample's)."""
    first = [coding for coding in codes if not coding.second_alternate]
    return _first_trial_code(first) or _first_trial_code(codes)


def _first_trial_code(codes: Sequence[Coding]) -> tuple[Analyte, str] | None:
    loinc = [coding.code.strip() for coding in codes if _is_loinc(coding)]
    for table in (LOINC_CODES, SAME_TEST_CODES):
        for code in loinc:
            if code in table:
                return table[code], code
    return None


def other_tests(codes: Sequence[Coding]) -> tuple[str, ...]:
    """The LOINC codes among ``codes`` that do not name the analyte ``identify_analyte``
    takes them for: another trial analyte's (a platelet code beside a neutrophil one), or a
    test the trial does not follow (direct bilirubin 1968-7 beside total bilirubin 1975-2).
    Any such code leaves which test was measured a guess. So does another trial analyte's
    code under a coding system that is not LOINC's (``https://loinc.org``, ``LOINC-2.7``,
    ``99LAB``: ``names_another_trial_analyte``; review 261: platelets' ``777-3`` so written
    beside neutrophils' ``751-8`` was passed over, the count published as neutrophils),
    since alone it is refused as maybe the trial's (``trial_coding_elsewhere``). Two codes
    of one analyte (CRP and hs-CRP; total bilirubin in mass and in moles,
    ``SAME_TEST_CODES``), under any system, name one; a local code (another coding system,
    or none and not written as a LOINC code is) that is no trial analyte's code says
    nothing. Empty: one test, or no trial analyte at all."""
    identified = identify_analyte(codes)
    if identified is None:
        return ()
    analyte = identified[0]
    return tuple(
        coding.code.strip()
        for coding in codes
        if (_names_a_loinc_test(coding) and _analyte_of_code(coding.code.strip()) is not analyte)
        or names_another_trial_analyte(coding, analyte)
    )


def names_another_trial_analyte(coding: Coding, analyte: Analyte) -> bool:
    """Whether ``coding``, under a coding system that is not LOINC's, is the LOINC code of a
    trial analyte other than ``analyte`` (``LOINC_CODES``, ``SAME_TEST_CODES``: each code's
    check digit is right, so it is no laboratory's own code that happens to look alike)."""
    other = _analyte_of_code(coding.code.strip())
    return not _is_loinc(coding) and other is not None and other is not analyte


def trial_code_elsewhere(codes: Sequence[Coding]) -> str | None:
    """A trial analyte's LOINC code written under a coding system that is not LOINC's (a
    misspelt ``https://loinc.org``, ``LOINC-2.7``, a local system's name), when no coding
    names a trial analyte: the code, else None (beside a coding that names one, another
    analyte's code so written makes the result ambiguous: ``other_tests``). The code is
    LOINC's, with its check digit (every code of the tables has it right), so the result may
    well be the trial's: which system was meant cannot be told, and it is refused rather
    than left out as another test's."""
    coding = trial_coding_elsewhere(codes)
    return None if coding is None else coding.code.strip()


def trial_coding_elsewhere(codes: Sequence[Coding]) -> Coding | None:
    """The coding ``trial_code_elsewhere`` finds (its code and the system written), else
    None."""
    if identify_analyte(codes) is not None:
        return None
    for coding in codes:
        if not _is_loinc(coding) and _analyte_of_code(coding.code.strip()) is not None:
            return coding
    return None


def _analyte_of_code(code: str) -> Analyte | None:
    return LOINC_CODES.get(code) or SAME_TEST_CODES.get(code)


def _names_a_loinc_test(coding: Coding) -> bool:
    """A coding of the LOINC system; one with no system only when its code is written as a
    LOINC code is (OBX-3's alternate identifier is often a local code sent without CE-6)."""
    code = coding.code.strip()
    if not code or not _is_loinc(coding):
        return False
    return bool((coding.system or "").strip()) or LOINC_CODE.fullmatch(code) is not None


def _is_loinc(coding: Coding) -> bool:
    system = (coding.system or "").strip().lower().rstrip("/")
    return not system or loinc_system(system, coding.code.strip())


def loinc_system(system: str, code: str) -> bool:
    """Whether a coding system (lower case, written) is LOINC's for ``code``: one of
    ``LOINC_SYSTEMS``, or UMLS's ``LNC`` under a LOINC code with its check digit right
    (``1988-5^CRP^LNC`` is CRP; ``1988-4`` under ``LNC`` is no LOINC code)."""
    return system in LOINC_SYSTEMS or (system == UMLS_LOINC and is_loinc_code(code))


def is_loinc_code(code: str) -> bool:
    """Whether ``code`` is written as a LOINC code is and its check digit is right (LOINC's
    mod 10 algorithm, Luhn's: ``1988-5``)."""
    if LOINC_CODE.fullmatch(code) is None:
        return False
    number, check = code.split("-")
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10 == int(check)
