"""The local code mappings' administration (``cachexia source code add | list | remove``):
each call one transaction of the allow-list's unit of work (``sender_admin``); what it did
returned as data, for the command to word. ``domain.local_codes`` says how a mapping reads a
result."""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.lab_ingestion.domain.local_codes import (
    KeptLocalCode,
    LocalCode,
    LocalCodeChange,
    checked_local_code,
    local_key,
)
from services.lab_ingestion.service_layer.sender_admin import SenderAdminUnitOfWork
from shared.contracts.events.lab import Analyte


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
            and change.mapping.applied_analyte is not None  # else nothing was read through it
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
