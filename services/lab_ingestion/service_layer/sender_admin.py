"""The HL7 sender allow-list's administration (``cachexia source add | list | remove``) and
its senders' local test codes (``cachexia source code add | list | remove``): each call one
transaction of its unit of work; what it did and what the operator should know are returned
as data, for the command to word; input refused raises an error saying why."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Protocol, Self

from services.lab_ingestion.domain.allow_list import AllowedSender, LabToken, SettingsGiven
from services.lab_ingestion.domain.local_codes import (
    KeptLocalCode,
    LocalCode,
    LocalCodeChange,
    checked_local_code,
    local_key,
)
from services.lab_ingestion.domain.records import Sender
from shared.contracts.events.lab import Analyte


class AllowList(Protocol):
    async def add(self, application: str, facility: str, given: SettingsGiven) -> bool:
        """Allow the sender (True if it is new), with the settings given."""
        ...

    async def settings(self, application: str, facility: str) -> Sender | None: ...

    async def remove(self, application: str, facility: str) -> bool: ...

    async def all(self) -> list[AllowedSender]: ...

    async def sites_with_subjects(self) -> set[str]: ...


class LabTokens(Protocol):
    async def in_use(self) -> list[LabToken]:
        """The lab tokens not revoked."""
        ...


class LocalCodes(Protocol):
    async def add(self, mapping: LocalCode) -> str | None:
        """Keep the mapping if the code is not mapped: None; else the LOINC code it is mapped
        to, left as it is (a mapping is never changed in place). The sender must be
        allowed."""
        ...

    async def remove(
        self, application: str, facility: str, system: str, code: str
    ) -> LocalCode | None:
        """Forget a mapping (``system`` as compared: upper case, "" for none): the one
        removed, None if there was none."""
        ...

    async def all(
        self, application: str | None = None, facility: str | None = None
    ) -> list[KeptLocalCode]:
        """The mappings (of the application, the facility, when given), by sender, system
        and code."""
        ...

    async def count(self, application: str, facility: str) -> int: ...

    async def history(
        self, application: str | None = None, facility: str | None = None
    ) -> list[LocalCodeChange]:
        """Every change of the mappings (of the application, the facility, when given),
        removals and a sender's removal included, oldest first."""
        ...


class SenderAdminUnitOfWork(Protocol):
    @property
    def sources(self) -> AllowList: ...

    @property
    def tokens(self) -> LabTokens: ...

    @property
    def codes(self) -> LocalCodes: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class SenderNote(enum.Enum):
    """What an operator allowing a sender should know, in the order to tell it."""

    SITE_WITHOUT_SUBJECTS = "site-without-subjects"  # a typo would discard every result
    NO_SITE = "no-site"  # hospital numbers are unique only within their hospital
    NO_TIME_ZONE = "no-time-zone"  # MSH-7's offset is the send time's: off across a change
    NO_IDENTIFIER_AUTHORITY = "no-identifier-authority"  # numbers of several: no choice


@dataclass(frozen=True)
class SenderAllowed:
    application: str
    facility: str
    added: bool  # new on the allow-list (else its settings were changed or kept)
    settings: Sender | None  # as kept now; None: removed meanwhile
    notes: tuple[SenderNote, ...]
    sites_with_subjects: tuple[str, ...] = ()  # sorted; read for SITE_WITHOUT_SUBJECTS


@dataclass(frozen=True)
class ListedSender:
    sender: AllowedSender
    local_codes: int  # its local codes mapped to LOINC


@dataclass(frozen=True)
class SenderRemoved:
    """``removed``: False if the sender was not on the allow-list. The lab tokens that
    deliver, or would deliver, as it (named whether or not it was removed): those bound to it
    are refused while it is not allowed; those bound to no sender deliver JSON as any."""

    sender: str  # MSH-3^MSH-4, as tokens are bound to it
    removed: bool
    bound_tokens: tuple[str, ...]
    unbound_tokens: tuple[str, ...]
    local_codes: int  # the sender's local codes' mappings, removed with it


class SenderNotAllowed(ValueError):
    """A local code of a sender not on the allow-list: its messages are refused, and its
    mappings would be removed with it anyway."""

    def __init__(self, application: str, facility: str) -> None:
        self.sender = f"{application}^{facility}"
        super().__init__(f"HL7 sender {self.sender} is not on the allow-list")


class MappedOtherwise(ValueError):
    """A local code the sender has mapped to another LOINC code: a mapping is not changed in
    place. Results stored through it keep the code they were published under, and what later
    acts on one (a correction, a cancellation, a late copy of a withdrawn version) is
    compared with what was stored: read under another code, a late copy of a cancelled
    result would be taken for a new one. Removing the mapping first says what that costs."""

    def __init__(self, kept: LocalCode) -> None:
        self.kept = kept
        super().__init__(f"the code is mapped to LOINC {kept.loinc}")


@dataclass(frozen=True)
class LocalCodeMapped:
    """``replaced``: the LOINC code the sender's code was read as before, the same as now
    (nothing changed: ``MappedOtherwise`` refuses another); None: it was not mapped (new).
    ``earlier``: a new mapping's code was mapped before, to another LOINC code (the last
    such change): results stored then keep that code."""

    mapping: LocalCode  # as kept
    replaced: str | None
    earlier: LocalCodeChange | None = None

    @property
    def analyte(self) -> Analyte:
        return self.mapping.analyte

    @property
    def added(self) -> bool:
        return self.replaced is None

    @property
    def unchanged(self) -> bool:
        return self.replaced == self.mapping.loinc


@dataclass(frozen=True)
class LocalCodeUnmapped:
    """``removed``: the mapping forgotten; None: the sender kept no such mapping."""

    sender: str  # MSH-3^MSH-4
    system: str  # as compared: upper case, "" for none
    code: str
    removed: LocalCode | None


async def allow_sender(
    uow: SenderAdminUnitOfWork,
    application: str,
    facility: str,
    given: SettingsGiven = SettingsGiven(),  # noqa: B008 - frozen: one default shared is safe
) -> SenderAllowed:
    """Allow a sender, or change its settings (``SettingsGiven``)."""
    site_id = given.site_id
    async with uow:
        added = await uow.sources.add(application, facility, given)
        settings = await uow.sources.settings(application, facility)
        known: tuple[str, ...] = ()
        if site_id:
            known = tuple(sorted(await uow.sources.sites_with_subjects()))
        await uow.commit()
    notes = []
    if site_id and site_id not in known:
        notes.append(SenderNote.SITE_WITHOUT_SUBJECTS)
    if settings is None or settings.site_id is None:
        notes.append(SenderNote.NO_SITE)
    if settings is None or settings.time_zone is None:
        notes.append(SenderNote.NO_TIME_ZONE)
    if settings is None or settings.identifier_authority is None:
        notes.append(SenderNote.NO_IDENTIFIER_AUTHORITY)
    return SenderAllowed(application, facility, added, settings, tuple(notes), known)


async def list_senders(uow: SenderAdminUnitOfWork) -> list[ListedSender]:
    """Every allowed sender with its settings and how many local codes it has mapped, by
    application and facility."""
    async with uow:
        senders = await uow.sources.all()
        codes = Counter((k.mapping.application, k.mapping.facility) for k in await uow.codes.all())
    return [ListedSender(s, codes[s.application, s.facility]) for s in senders]


async def remove_sender(
    uow: SenderAdminUnitOfWork, application: str, facility: str
) -> SenderRemoved:
    """Take a sender off the allow-list, its local codes' mappings with it: its messages are
    then refused (AR, unknown source) and kept as rejections; what it sent before stays."""
    sender = f"{application}^{facility}"
    async with uow:
        codes = await uow.codes.count(application, facility)  # removed with it (a cascade)
        removed = await uow.sources.remove(application, facility)
        tokens = await uow.tokens.in_use()
        await uow.commit()
    bound = sorted({t.name for t in tokens if t.senders is not None and sender in t.senders})
    unbound = sorted({t.name for t in tokens if t.senders is None})
    return SenderRemoved(sender, removed, tuple(bound), tuple(unbound), codes)


async def map_local_code(
    uow: SenderAdminUnitOfWork,
    application: str,
    facility: str,
    system: str,
    code: str,
    *,
    loinc: str,
) -> LocalCodeMapped:
    """Read an allowed sender's local test code as a trial analyte's LOINC code (the same
    mapping again changes nothing). InvalidLocalCode: the mapping cannot be kept (checked
    before anything is read); SenderNotAllowed: the sender is not on the allow-list;
    MappedOtherwise: the code is mapped to another LOINC code (nothing is changed)."""
    mapping = checked_local_code(application, facility, system, code, loinc)
    async with uow:
        if await uow.sources.settings(mapping.application, mapping.facility) is None:
            raise SenderNotAllowed(mapping.application, mapping.facility)
        replaced = await uow.codes.add(mapping)
        if replaced is not None and replaced != mapping.loinc:  # nothing was written
            raise MappedOtherwise(replace(mapping, loinc=replaced))
        earlier = None if replaced else await _mapped_otherwise_before(uow, mapping)
        await uow.commit()
    return LocalCodeMapped(mapping, replaced, earlier)


async def _mapped_otherwise_before(
    uow: SenderAdminUnitOfWork, mapping: LocalCode
) -> LocalCodeChange | None:
    """The last time the code was mapped to another LOINC code than ``mapping``'s, if ever
    (``local_code_changes``): results stored through that mapping keep its code."""
    changes = await uow.codes.history(mapping.application, mapping.facility)
    return next(
        (
            change for change in reversed(changes)
            if change.mapping is not None and change.mapping.key == mapping.key
            and change.loinc != mapping.loinc
        ),
        None,
    )  # fmt: skip


async def unmap_local_code(
    uow: SenderAdminUnitOfWork, application: str, facility: str, system: str, code: str
) -> LocalCodeUnmapped:
    """Forget a sender's mapping of a local code, given as it was mapped (the system in any
    case): the sender's results of that code then name no trial analyte again."""
    system, code = local_key(system, code)
    async with uow:
        removed = await uow.codes.remove(application, facility, system, code)
        await uow.commit()
    return LocalCodeUnmapped(f"{application}^{facility}", system, code, removed)


async def list_local_codes(
    uow: SenderAdminUnitOfWork, application: str | None = None, facility: str | None = None
) -> list[KeptLocalCode]:
    """The local codes mapped (of the application, the facility, when given), by sender,
    system and code."""
    async with uow:
        return await uow.codes.all(application, facility)


async def local_code_history(
    uow: SenderAdminUnitOfWork, application: str | None = None, facility: str | None = None
) -> list[LocalCodeChange]:
    """What each local code was read as, from when (of the application, the facility, when
    given), oldest first: which mapping a result was read through, for an audit."""
    async with uow:
        return await uow.codes.history(application, facility)
