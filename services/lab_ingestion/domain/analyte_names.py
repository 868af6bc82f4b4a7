"""A trial analyte's result the trial would lose: named as one, coded as none (pure: no I/O).

The trial reads a result's test by its codes alone (``analyte_codes``; a sender's own code
once mapped, ``local_codes``). A result whose name says it is a CRP (``CRP``, ``hs-CRP``,
``C-reactive protein``, ``C-reaktives Protein``, ``protéine C réactive``, ``proteina C
reattiva``: HL7 OBX-3's texts, a FHIR Observation's ``code.text`` and codings' display)
under a code the trial does not list (a point-of-care CRP under another LOINC code, a
laboratory's own code not mapped) was left out as another test's, the message beside it
answered as stored (review 155). It is refused instead, as an unusable trial result is
(``unlisted_refusal``); its code is never read as CRP's: which codes name a trial analyte
is the protocol's decision (PROTOCOL section 6).

Only CRP is told by its name: the names of the other analytes are shared by tests the trial
does not follow (a neutrophil percentage, MCH and HbA1c, direct bilirubin, creatinine in
urine), and refusing those would refuse every such message. A name is CRP's only when,
after the words a CRP is qualified with are taken away, nothing else is left (an
allow-list, review 165): the name itself (``CRP``, ``hsCRP``, ``CRPhs``, ``hs-CRP``, the
protein spelt out in English, German, French, Italian), a specimen prefix (``S-CRP``,
``P-``, ``B-``, ``Se-``, ``Pl-``, ``VB-``), a unit (``CRP (mg/L)``), specimen words (serum,
plasma, whole or capillary blood, ``Vollblut``, ``kapillär``, ``sang total``), method words
(POC, point of care, quantitative, high sensitivity, ``hochsensitiv``, cardio,
turbidimetric) and the words of a LOINC long name (``C reactive protein [Mass/volume] in
Serum or Plasma by High sensitivity method``). Any other word makes it another test's, left
out as before: a previous value, a ratio (``CRP/Albumin``), a time, a dilution, a trend, a
quality control, a lot, a limit, a risk category, an antibody, a comment, a device's name;
never ``CRP`` inside another word (``CRPX``). Every name a result carries must be CRP's (a
display saying ``CRP Vorwert`` beside ``CRP`` makes it no CRP): refusing a message for a
result the trial does not follow would lose the results beside it.

Only a result holding a measurement is refused: a plain decimal number, maybe after a
comparator (``45``, ``<5``, ``5,2``, ``>200``, ``95'000``), of a numeric type (HL7 NM, SN)
or a text (ST, TX, FT; no type: FHIR, JSON); a time (``08:15``), a date, a ratio or titre
(``1:10``), a number with words after it, a coded or free-text answer (``see report``), a
result with no value and a cancellation (nothing was stored under such a code) are left out
as before. An order's name (OBR-4) is never read: it names what was asked, not a result.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Final

from services.lab_ingestion.domain.analyte_codes import (
    LOINC_CODE,
    LOINC_CODES,
    identify_analyte,
    trial_coding_elsewhere,
)
from services.lab_ingestion.domain.lab_numbers import NUMBER, without_thousands_apostrophes
from services.lab_ingestion.domain.local_codes import coded_locally, names_its_own_test
from services.lab_ingestion.domain.model import Coding, ObservationInput, Rejected, RejectionCode
from services.lab_ingestion.domain.reference_ranges import GREATER_THAN, LOWER_THAN
from services.lab_ingestion.domain.result_status import CANCELLING, NO_RESULT
from services.lab_ingestion.domain.shown import CODING_SYSTEM, shown
from shared.contracts.events.lab import Analyte, Channel

# how a reason names the analyte
SHOWN_NAMES: Final[Mapping[Analyte, str]] = MappingProxyType({Analyte.CRP: "CRP"})

# a word that is CRP's name itself (after accents and case are taken away)
_CRP_WORDS: Final = frozenset({"crp", "hscrp", "crphs"})
# ``C-reactive protein`` spelt out: "reactive" in English, German, French, Italian (and
# Spanish, Portuguese), before or after "protein"
_REACTIVE: Final = frozenset(
    {"reactive", "reaktive", "reaktives", "reaktiven", "reattiva", "reactiva", "reativa"}
)
_PROTEIN: Final = frozenset({"protein", "proteine", "proteina"})
# the only other words a CRP's name may hold: its specimen, its method, a LOINC long name's
_QUALIFIERS: Final = frozenset(
    {
        "serum", "plasma", "blood", "whole", "capillary", "venous", "vollblut", "kapillar",
        "kapillarblut", "sang", "total", "capillaire", "sangue", "intero", "capillare",
        "poc", "poct", "point", "of", "care", "quant", "quantitative", "quantitativ",
        "quantitatif", "quantitativa", "hs", "high", "sensitivity", "sensitive",
        "hochsensitiv", "ultrasensible", "cardio", "turbidimetric", "turbidimetrisch",
        "mass", "moles", "volume", "in", "or", "by", "method",
    }
)  # fmt: skip
# a specimen prefix before ``CRP`` (``S-CRP``, ``Pl-hsCRP``: Swiss and Scandinavian
# laboratories) and a unit CRP is measured in (``CRP (mg/L)``), after accents and case went
_PREFIX: Final = re.compile(r"(?<![a-z0-9])(?:s|p|b|se|pl|vb)\s*-(?=\s*(?:hs\s*-?\s*)?crp)")
_UNIT: Final = re.compile(r"(?<![a-z0-9])(?:mg|nmol)\s*/\s*d?l(?![a-z0-9])")
_MAX_NAME: Final = 200  # a test's name is short; past this a text is read no further
_WORD: Final = re.compile(r"[a-z0-9]+")

# HL7 OBX-2 types a measurement is sent as (SN as its joined text: ``<^5`` is ``<5``);
# no type: FHIR, JSON
_MEASURED_TYPES: Final = frozenset({"", "NM", "SN", "ST", "TX", "FT"})
_MEASUREMENT: Final = re.compile(rf"(?:{LOWER_THAN}|{GREATER_THAN}|=)?\s*{NUMBER}")
_MAX_VALUE: Final = 40


def named_analyte(names: Iterable[str]) -> Analyte | None:
    """CRP when the names a sender gave a result are all CRP's (``CRP``, ``S-CRP``, ``hs-CRP
    (mg/L)``, ``CRP POC kapillär``), and there is one; None when any says something else
    (``CRP Vorwert``, ``CRP/Albumin``, ``Procalcitonin``)."""
    given = [name for name in names if name.strip()]
    if given and all(_names_crp(name) for name in given):
        return Analyte.CRP
    return None


def holds_a_measurement(value: str, value_type: str) -> bool:
    """Whether a result's value is a measurement: a plain decimal number, maybe after a
    comparator, as a numeric type or text (``holds_a_measurement("45", "NM")``; ``"08:15"``,
    ``"1:10"``, ``"12 mg/L"``, ``"see comment"`` are none)."""
    text = value.strip()
    return (
        value_type.strip().upper() in _MEASURED_TYPES
        and 0 < len(text) <= _MAX_VALUE
        and _MEASUREMENT.fullmatch(without_thousands_apostrophes(text)) is not None
    )


def unlisted_analyte(
    codes: Sequence[Coding],
    names: Iterable[str],
    value: str,
    value_type: str,
    status: str,
    *,
    added_names: Iterable[str] = (),
) -> Analyte | None:
    """The trial analyte a result is by its name (``named_analyte``) when it holds a
    measurement (not pending, not a cancellation) and its codes name no trial analyte, nor
    write one's LOINC code under another system's name (refused as that:
    ``trial_coding_elsewhere``); None otherwise. ``added_names`` (HL7 OBX-3's second
    alternate text, CWE-11, read since fixer 267) may add a name, never take one away: the
    result is named by ``names`` alone, or by all of them (review 269: ``CRPX^CRP^99LAB^^^^
    ^^^K123^CRP Notfall^99KIS`` was left out unseen, the CRP refused before)."""
    read = status.strip().upper()
    if read in NO_RESULT or read in CANCELLING or not holds_a_measurement(value, value_type):
        return None
    if identify_analyte(codes) is not None or trial_coding_elsewhere(codes) is not None:
        return None
    names = tuple(names)
    return named_analyte(names) or named_analyte((*names, *added_names))


def unlisted_refusal(observation: ObservationInput, channel: Channel) -> Rejected | None:
    """Why a result named as a trial analyte and coded as none (``unlisted_analyte``) cannot
    be used, what to do first (MSA-3 shows 80 characters): send it under a code the protocol
    lists, or, when an HL7 sender wrote only its own code, have the trial map it (``cachexia
    source code add``).
    The code is quoted only when written as a LOINC code is, the coding system only in a
    coding system's shape (``shown``); the name never (free text may name anyone)."""
    analyte = unlisted_analyte(
        observation.codes, observation.names, observation.value, observation.value_type,
        observation.status, added_names=observation.second_alternate_names,
    )  # fmt: skip
    if analyte is None:
        return None
    listed = [code for code, named in LOINC_CODES.items() if named is analyte]
    hl7 = channel in (Channel.MLLP, Channel.HL7_HTTP)
    where = {Channel.FHIR: " in Observation.code", Channel.JSON: ""}.get(channel, " in OBX-3")
    first = next((c for c in observation.codes if c.code.strip() and not c.translated), None)
    send = f"{'with loinc' if channel is Channel.JSON else 'as'} {listed[0]}"
    if hl7 and first is not None and coded_locally(observation.codes):
        send += ", or have the trial map the code (cachexia source code add)"
    never = any(names_its_own_test(c) for c in observation.codes)
    return Rejected(
        RejectionCode.UNKNOWN_ANALYTE,
        f"send the {SHOWN_NAMES[analyte]} (by its name{where}) {_coded(first, channel)} "
        f"{send}: the trial {'does not list its code' if first else 'reads a test by its code'} "
        f"(PROTOCOL section 6: {', '.join(listed)}"
        f"{'; a LOINC code is never mapped' if never else ''})",
    )


def _coded(coding: Coding | None, channel: Channel) -> str:
    """How a reason names the code a result was sent under."""
    if coding is None:
        return "without a code"
    code, system = coding.code.strip(), (coding.system or "").strip()
    if not LOINC_CODE.fullmatch(code):  # the laboratory's own: never quoted
        return f"coded locally ({_system(system)})" if system else "coded locally"
    if channel is Channel.JSON or not system:
        return f"coded {code!r}"
    return f"coded {code!r} under {shown(system, CODING_SYSTEM)}"


def _system(system: str) -> str:
    return f"system {shown(system, CODING_SYSTEM)}"


def _names_crp(name: str) -> bool:
    """Whether ``name`` is CRP's and nothing else: its words, once a specimen prefix and a
    unit are taken away, are CRP's name and qualifiers (``_QUALIFIERS``) only."""
    words = _words(name)
    named, index = False, 0
    while index < len(words):
        if words[index] in _CRP_WORDS:
            named, index = True, index + 1
        elif _spelt_out(words[index : index + 3]):
            named, index = True, index + 3
        elif words[index] in _QUALIFIERS:
            index += 1
        else:
            return False
    return named


def _words(name: str) -> list[str]:
    """A name's words, without accents and case, a specimen prefix or a unit (``Protéine
    C-réactive``: proteine, c, reactive; ``P-CRP (mg/L)``: crp)."""
    decomposed = unicodedata.normalize("NFKD", name[:_MAX_NAME])
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return _WORD.findall(_UNIT.sub(" ", _PREFIX.sub(" ", plain)))


def _spelt_out(words: Sequence[str]) -> bool:
    """C-reactive protein, C-reaktives Protein; protéine C réactive, proteina C reattiva."""
    if len(words) < 3:
        return False
    first, second, third = words
    return (first == "c" and second in _REACTIVE and third in _PROTEIN) or (
        first in _PROTEIN and second == "c" and third in _REACTIVE
    )
