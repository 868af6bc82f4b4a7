"""Laboratories' local test codes, mapped per sender to the trial's LOINC codes. Pure: no I/O.

PROTOCOL section 6 names each analyte by LOINC; many hospital laboratories write only their
own code in OBX-3 (``CRP^C-reactive protein^L``), which names no trial analyte: a message of
such results alone is rejected ``unknown-analyte``, and beside a LOINC-coded result such a
result is left out as another test's. An operator maps each such code of a sender, as that
sender writes it (code and coding system), to the LOINC code of the test it is
(``cachexia source code add``). A mapped result is read as if the sender had written the
LOINC code beside its own (``with_local_codes``): the result key, and so every correction
and cancellation of it, stays the sender's code; the LOINC code is what is published.

A mapping adds a code and takes nothing away: a sender's LOINC code of another test beside a
mapped local code makes the result ambiguous (rejected, as two trial codes are), never
silently one of them. A LOINC code cannot be mapped (it names its own test).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final

from services.lab_ingestion.domain.analyte_codes import (
    LOINC_CODE,
    LOINC_CODES,
    SAME_TEST_CODES,
    identify_analyte,
    is_loinc_code,
    loinc_system,
)
from services.lab_ingestion.domain.model import Coding
from shared.contracts.events.lab import Analyte

MAX_LOCAL_CODE_CHARS = 64  # HL7 v2.5 CWE-1 is 20; some senders write more, none this many
TRANSLATION_SYSTEM: Final = "LN"  # the coding system of a code added for a local one

# (coding system as compared: stripped, upper case, "" for none; the code as written, stripped)
LocalKey = tuple[str, str]


class InvalidLocalCode(ValueError):
    """A mapping that cannot be kept: the reason says which part and why."""


@dataclass(frozen=True)
class LocalCode:
    """One sender's local test code (``code`` in coding system ``system``: upper case, ""
    when the sender writes none) and the trial's LOINC code of the same test."""

    application: str  # MSH-3
    facility: str  # MSH-4
    system: str
    code: str
    loinc: str

    @property
    def analyte(self) -> Analyte:
        return _analyte_of(self.loinc)

    @property
    def applied_analyte(self) -> Analyte | None:
        """The analyte its results are read as; None: ``loinc`` names no trial analyte (a
        row kept by hand, or by a version whose tables held it): ``LocalCodeTable`` skips it."""
        return LOINC_CODES.get(self.loinc) or SAME_TEST_CODES.get(self.loinc)

    @property
    def key(self) -> LocalKey:
        return local_key(self.system, self.code)


@dataclass(frozen=True)
class KeptLocalCode:
    """A mapping as kept, with when it was last set (as operators list them)."""

    mapping: LocalCode
    added_at: datetime


@dataclass(frozen=True)
class LocalCodeChange:
    """One change of a sender's mapping, as recorded (migration 0026): from ``changed_at``
    the code is read as ``loinc``; None: the mapping was removed (by the command, with its
    sender, or by hand). A result was read through its code's last change before its receipt."""

    application: str
    facility: str
    system: str
    code: str
    loinc: str | None
    changed_at: datetime

    @property
    def mapping(self) -> LocalCode | None:
        """The mapping this change set; None: it removed one."""
        if self.loinc is None:
            return None
        return LocalCode(self.application, self.facility, self.system, self.code, self.loinc)


def local_key(system: str | None, code: str) -> LocalKey:
    return (system or "").strip().upper(), code.strip()


def checked_local_code(
    application: str, facility: str, system: str, code: str, loinc: str
) -> LocalCode:
    """The mapping as kept (parts stripped), or InvalidLocalCode: the code must be one a
    sender can write in OBX-3 (not blank, no HL7 separator, not a LOINC code) and the target
    a LOINC code of a trial analyte (PROTOCOL section 6, or the same measurement's
    ``SAME_TEST_CODES``)."""
    system, code, loinc = system.strip().upper(), code.strip(), loinc.strip()
    if not code:
        raise InvalidLocalCode("the local code is blank")
    if not system.isascii():  # compared in upper case, as PostgreSQL's upper() reads ASCII
        raise InvalidLocalCode(f"the coding system {system!r} is not ASCII (HL7 table 0396's are)")
    for name, text in (("local code", code), ("coding system", system)):
        if len(text) > MAX_LOCAL_CODE_CHARS:
            raise InvalidLocalCode(f"the {name} is longer than {MAX_LOCAL_CODE_CHARS} characters")
        if any(c in text for c in "|^~\\&\r\n") or not text.isprintable():
            raise InvalidLocalCode(
                f"the {name} {text!r} holds an HL7 separator or a control character: give it "
                "as the sender writes it in OBX-3, one component"
            )
    if names_its_own_test(Coding(code, system)):
        raise InvalidLocalCode(
            f"{code!r} is a LOINC code (under LOINC's coding system, under none written as one "
            "is, or a LOINC code with its check digit under any other: 99LAB, L, ...): it "
            "names its own test; only a laboratory's own codes are mapped"
        )
    if loinc not in LOINC_CODES and loinc not in SAME_TEST_CODES:
        raise InvalidLocalCode(
            f"{loinc!r} is not the LOINC code of a trial analyte (PROTOCOL section 6): one of "
            + ", ".join(sorted({*LOINC_CODES, *SAME_TEST_CODES}))
        )
    return LocalCode(application.strip(), facility.strip(), system, code, loinc)


class LocalCodeTable:
    """Every sender's mappings, as last read: immutable, safe to share between messages. A
    mapping ``checked_local_code`` would refuse (kept by hand, or by a version whose tables
    held its code: a target that names no trial analyte, a local code that is a LOINC code)
    is not applied, only kept apart (``skipped``): its results stay unread, as they were
    before it, and no other result of the sender's is held up by it."""

    def __init__(self, codes: Iterable[LocalCode] = ()) -> None:
        senders: dict[tuple[str, str], dict[LocalKey, str]] = {}
        skipped = []
        for mapping in codes:
            if mapping.applied_analyte is None or names_its_own_test(
                Coding(mapping.code, mapping.system)
            ):
                skipped.append(mapping)
                continue
            sender = senders.setdefault((mapping.application, mapping.facility), {})
            sender[mapping.key] = mapping.loinc
        self._senders = {sender: MappingProxyType(codes) for sender, codes in senders.items()}
        self._size = sum(len(codes) for codes in senders.values())
        self.skipped = frozenset(skipped)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LocalCodeTable):
            return NotImplemented
        return self._senders == other._senders

    __hash__ = None  # type: ignore[assignment]  # compared by content, so not hashable

    def of_sender(self, application: str, facility: str) -> Mapping[LocalKey, str]:
        """The sender's mappings (empty: none)."""
        return self._senders.get((application, facility), NO_MAPPINGS)

    def __len__(self) -> int:
        return self._size


NO_MAPPINGS: Final[Mapping[LocalKey, str]] = MappingProxyType({})  # a sender with no mapping
NO_LOCAL_CODES: Final = LocalCodeTable()


def with_local_codes(codes: Sequence[Coding], mapped: Mapping[LocalKey, str]) -> Sequence[Coding]:
    """``codes`` as sent, then a translated LOINC coding for each local code ``mapped``
    (its sender's table) maps, unless a LOINC code the sender wrote names that analyte
    already (nothing to add: the sender's code is published). A mapped code of another
    analyte than the sender's LOINC code, or two local codes of two analytes, leave two
    trial analytes: the result is ambiguous, as it would be with both LOINC codes.

    Where a mapping names the test, an unmapped code written as a LOINC code is under a
    coding system not known as LOINC's (``99LAB``, ``LOINC-2.7``) is read as LOINC too (a
    translation), so that one naming another test makes the result ambiguous rather than
    being passed over (``other_tests``); one of the mapped analyte is not (it adds nothing,
    and could be taken for the code to publish instead of the operator's).

    Whether the sender's LOINC code names the mapped analyte is told without OBX-3's second
    alternate codes (``Coding.second_alternate``), as before fixer 267 read them: the
    translation is added as it was then (review 269: ``CRP^C-reactive protein^L^^^^^^^1988-5^
    CRP^LN`` stored then and resent under its id was refused as a reused id)."""
    if not mapped:
        return codes
    targets = [mapped.get(local_key(c.system, c.code)) for c in codes]
    if not any(targets):
        return codes
    sent = identify_analyte([c for c in codes if not c.second_alternate])
    added: list[Coding] = []
    for loinc in dict.fromkeys(t for t in targets if t):
        if sent is not None and _analyte_of(loinc) is sent[0]:
            continue
        # a translation of a second alternate code alone is one (``Coding.second_alternate``)
        second = all(c.second_alternate for c, t in zip(codes, targets, strict=True) if t == loinc)
        added.append(Coding(loinc, TRANSLATION_SYSTEM, translated=True, second_alternate=second))
    if not added:
        return codes
    mapped_analytes = {_analyte_of(t) for t in targets if t}
    loinc_like = [
        Coding(
            c.code.strip(), TRANSLATION_SYSTEM, translated=True, second_alternate=c.second_alternate
        )
        for c, target in zip(codes, targets, strict=True)
        if target is None
        and is_loinc_code(c.code.strip())
        and not _written_as_loinc(c)
        and _analyte_or_none(c.code.strip()) not in mapped_analytes
    ]
    return (*codes, *added, *loinc_like)


def translated_analyte(codes: Sequence[Coding]) -> bool:
    """Whether the code the analyte is identified by (``identify_analyte``) is a
    translation: the test is named by a mapping of the laboratory's own code."""
    identified = identify_analyte(codes)
    if identified is None:
        return False
    sent = identify_analyte(as_sent(codes))
    return sent is None or sent[1] != identified[1]


def coded_locally(codes: Sequence[Coding]) -> bool:
    """Whether a result names its test by a laboratory's own code alone: a code in a coding
    system that is not LOINC's (or in none, not written as a LOINC code is), and no LOINC
    code of any test."""
    sent = [c for c in as_sent(codes) if c.code.strip()]
    return bool(sent) and not any(names_its_own_test(c) for c in sent)


def names_its_own_test(coding: Coding) -> bool:
    """Whether a code is LOINC's, never a laboratory's own: under LOINC's coding system, or
    under none and written as a LOINC code is (as ``analyte_codes`` reads such a code), or
    under any other a LOINC code with its check digit (``is_loinc_code``: ``1968-7`` under
    ``99LAB`` is direct bilirubin; ``100-1`` under ``L`` is the laboratory's own)."""
    return _written_as_loinc(coding) or is_loinc_code(coding.code.strip())


def _written_as_loinc(coding: Coding) -> bool:
    system = (coding.system or "").strip().lower().rstrip("/")
    if system:
        return loinc_system(system, coding.code.strip())
    return LOINC_CODE.fullmatch(coding.code.strip()) is not None


def as_sent(codes: Sequence[Coding]) -> tuple[Coding, ...]:
    """``codes`` without the translations ``with_local_codes`` added."""
    return tuple(c for c in codes if not c.translated)


def mapped_codes(codes: Sequence[Coding]) -> frozenset[str]:
    """The LOINC codes a mapping added (``with_local_codes``): the translations that are not
    a code the sender wrote under another system's name (those are read as LOINC only)."""
    sent = {c.code.strip() for c in as_sent(codes)}
    return frozenset(c.code for c in codes if c.translated and c.code not in sent)


def _analyte_or_none(loinc: str) -> Analyte | None:
    return LOINC_CODES.get(loinc) or SAME_TEST_CODES.get(loinc)


def _analyte_of(loinc: str) -> Analyte:
    analyte = LOINC_CODES.get(loinc) or SAME_TEST_CODES.get(loinc)
    if analyte is None:
        raise InvalidLocalCode(f"{loinc!r} is not the LOINC code of a trial analyte")
    return analyte
