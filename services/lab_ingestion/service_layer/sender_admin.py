"""The HL7 sender allow-list's administration (``cachexia source add | list | remove``): each
call one transaction of its unit of work (which also holds the senders' local code mappings:
``local_code_admin``); what it did and what the operator should know are returned as data,
for the command to word."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from services.lab_ingestion.domain.allow_list import AllowedSender, LabToken, SettingsGiven
from services.lab_ingestion.domain.local_codes import (
    KeptLocalCode,
    LocalCode,
    LocalCodeChange,
)
from services.lab_ingestion.domain.records import Sender


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
