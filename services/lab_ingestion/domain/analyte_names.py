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
urine), and refusing those would refuse every such message. A name is CRP's when one of
its words is ``CRP`` (``hsCRP`` too), never inside another word (``CRPX``), or when it
spells the protein out; not when a word says it is about a CRP rather than one (a comment,
a note, an interpretation, a ratio). Only a result holding a measurement is refused: a
numeric type (HL7 NM, SN), or a text whose value is a number (with a comparator, a unit
after it); a coded or free-text answer (``CRP comment``, FT ``see report``), a result
with no value and a cancellation (nothing was stored under such a code) are left out as
before. An order's name (OBR-4) is never read: it names what was asked, not a result.
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
from services.lab_ingestion.domain.local_codes import coded_locally, names_its_own_test
from services.lab_ingestion.domain.model import Coding, ObservationInput, Rejected, RejectionCode
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
# words that make a name one about a CRP, not of a CRP's value
_ABOUT: Final = frozenset(
    {
        "comment", "comments", "kommentar", "commentaire", "commento", "remark", "note",
        "notes", "nota", "notiz", "bemerkung", "remarque", "hinweis", "info", "text",
        "interpretation", "interpretazione", "beurteilung", "ratio", "quotient",
        "verhaltnis", "rapport", "rapporto",
    }
)  # fmt: skip
_MAX_NAME: Final = 200  # a test's name is short; past this a text is read no further
_WORD: Final = re.compile(r"[a-z0-9]+")

# HL7 OBX-2 types declaring a number; a text type (or none: FHIR, JSON) holds one when its
# value is a number, maybe after a comparator and before a unit (``<5``, ``12,5 mg/L``)
_NUMERIC_TYPES: Final = frozenset({"NM", "SN"})
_TEXT_TYPES: Final = frozenset({"", "ST", "TX", "FT"})
# a decimal comma, an apostrophe grouping thousands (``95'000``; Swiss, also as U+2019)
_NUMBER_FIRST: Final = re.compile(
    r"(?:<=|>=|<|>|=|\u2264|\u2265)?\s*[0-9]+(?:[.,'\u2019][0-9]+)*(?:\s*\S+)?"
)
_MAX_VALUE: Final = 40


def named_analyte(names: Iterable[str]) -> Analyte | None:
    """The trial analyte the names a sender gave a result say it is (CRP only), unless a
    name says it is about one (``CRP comment``, ``CRP/albumin ratio``)."""
    found = None
    for name in names:
        words = _words(name)
        if _ABOUT.intersection(words):
            return None
        if found is None and _names_crp(words):
            found = Analyte.CRP
    return found


def holds_a_measurement(value: str, value_type: str) -> bool:
    """Whether a result's value is a measurement: of a numeric type, or text that is a
    number (``holds_a_measurement("45", "NM")``; ``"see comment"`` as FT is none)."""
    text = value.strip()
    kind = value_type.strip().upper()
    if not text:
        return False
    if kind in _NUMERIC_TYPES:
        return True
    return (
        kind in _TEXT_TYPES
        and len(text) <= _MAX_VALUE
        and _NUMBER_FIRST.fullmatch(text) is not None
    )


def unlisted_analyte(
    codes: Sequence[Coding], names: Iterable[str], value: str, value_type: str, status: str
) -> Analyte | None:
    """The trial analyte a result is by its name (``named_analyte``) when it holds a
    measurement (not pending, not a cancellation) and its codes name no trial analyte, nor
    write one's LOINC code under another system's name (refused as that:
    ``trial_coding_elsewhere``); None otherwise."""
    read = status.strip().upper()
    if read in NO_RESULT or read in CANCELLING or not holds_a_measurement(value, value_type):
        return None
    if identify_analyte(codes) is not None or trial_coding_elsewhere(codes) is not None:
        return None
    return named_analyte(names)


def unlisted_refusal(observation: ObservationInput, channel: Channel) -> Rejected | None:
    """Why a result named as a trial analyte and coded as none (``unlisted_analyte``) cannot
    be used, what to do first (MSA-3 shows 80 characters): send it under a code the protocol
    lists, or, when an HL7 sender wrote only its own code, have the trial map it (``cachexia
    source code add``).
    The code is quoted only when written as a LOINC code is, the coding system only in a
    coding system's shape (``shown``); the name never (free text may name anyone)."""
    analyte = unlisted_analyte(
        observation.codes, observation.names, observation.value, observation.value_type,
        observation.status,
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


def _words(name: str) -> list[str]:
    """A name's words, without accents and case (``Protéine C-réactive``: protein, c,
    reactive)."""
    decomposed = unicodedata.normalize("NFKD", name[:_MAX_NAME])
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return _WORD.findall(plain)


def _names_crp(words: Sequence[str]) -> bool:
    if _CRP_WORDS.intersection(words):
        return True
    for index in range(len(words) - 2):
        first, second, third = words[index : index + 3]
        if first == "c" and second in _REACTIVE and third.startswith("prote"):
            return True  # C-reactive protein, C-reaktives Protein
        if first.startswith("prote") and second == "c" and third in _REACTIVE:
            return True  # protéine C réactive, proteina C reattiva
    return False
