"""Hand-written fakes behind the allow-list administration's unit of work
(``service_layer.sender_admin``): the allow-list, the lab tokens and the senders' local codes
kept in memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from services.lab_ingestion.domain.allow_list import AllowedSender, LabToken, SettingsGiven
from services.lab_ingestion.domain.local_codes import KeptLocalCode, LocalCode, LocalCodeChange
from services.lab_ingestion.domain.records import Sender

ADDED_AT = datetime(2025, 3, 30, 8, 15, tzinfo=UTC)


@dataclass
class FakeAllowList:
    """The senders allowed, and the sites with enrolled subjects. ``authorities``: the
    authority's names the last ``add`` was given (None: none given)."""

    senders: dict[tuple[str, str], Sender] = field(default_factory=dict)
    sites: set[str] = field(default_factory=set)
    authorities: tuple[str, ...] | None = None
    gone_after_add: bool = False  # another operator removes the sender meanwhile
    removed: Callable[[str, str], None] = lambda application, facility: None  # the cascade

    async def add(self, application: str, facility: str, given: SettingsGiven) -> bool:
        key = (application, facility)
        new = key not in self.senders
        kept = self.senders.get(key, Sender())
        names = self.authorities = given.identifier_authority
        cleared = given.cleared
        first, others = kept.identifier_authority, kept.other_authority_names
        if cleared.identifier_authority:
            first, others = None, ()
        elif names:
            first, others = names[0], names[1:]
        self.senders[key] = Sender(
            None if cleared.time_zone else given.time_zone or kept.time_zone,
            None if cleared.site_id else given.site_id or kept.site_id,
            first,
            others,
        )
        if self.gone_after_add:
            del self.senders[key]
        return new

    async def settings(self, application: str, facility: str) -> Sender | None:
        return self.senders.get((application, facility))

    async def remove(self, application: str, facility: str) -> bool:
        if self.senders.pop((application, facility), None) is None:
            return False
        self.removed(application, facility)
        return True

    async def all(self) -> list[AllowedSender]:
        return [AllowedSender(a, f, s, ADDED_AT) for (a, f), s in sorted(self.senders.items())]

    async def sites_with_subjects(self) -> set[str]:
        return set(self.sites)


@dataclass
class FakeLabTokens:
    tokens: list[LabToken] = field(default_factory=list)  # those not revoked

    async def in_use(self) -> list[LabToken]:
        return list(self.tokens)


# a mapping's key in the table: application, facility, system (as compared) and code
MappingKey = tuple[str, str, str, str]


@dataclass
class FakeLocalCodes:
    """The mappings kept, and their ``changes`` as the table's trigger records them (a
    minute apart after ADDED_AT; a mapping given to ``of`` at ADDED_AT, as migration 0026
    kept those before it). ``allowed``: the allow-list's senders (the unit of work binds
    it), as the table's foreign key reads them: a mapping of a sender not allowed cannot be
    added, and is gone with its sender (a cascade: ``sender_removed``)."""

    kept: dict[MappingKey, KeptLocalCode] = field(default_factory=dict)
    allowed: dict[tuple[str, str], Sender] = field(default_factory=dict)
    changes: list[LocalCodeChange] = field(default_factory=list)

    @classmethod
    def of(cls, *mappings: LocalCode) -> FakeLocalCodes:
        kept = {_key(m): KeptLocalCode(m, ADDED_AT) for m in mappings}
        return cls(kept, changes=[LocalCodeChange(*_key(m), m.loinc, ADDED_AT) for m in mappings])

    async def add(self, mapping: LocalCode) -> str | None:
        assert (mapping.application, mapping.facility) in self.allowed, "a foreign key violation"
        before = self._live().get(_key(mapping))
        if before is not None:  # never changed here: the code kept is said
            return before.mapping.loinc
        self.kept[_key(mapping)] = KeptLocalCode(mapping, ADDED_AT)
        self._record(_key(mapping), mapping.loinc)
        return None

    async def remove(
        self, application: str, facility: str, system: str, code: str
    ) -> LocalCode | None:
        gone = self._live().get((application, facility, system, code))
        if gone is None:
            return None
        del self.kept[_key(gone.mapping)]
        self._record(_key(gone.mapping), None)
        return gone.mapping

    async def all(
        self, application: str | None = None, facility: str | None = None
    ) -> list[KeptLocalCode]:
        return [
            kept for key, kept in sorted(self._live().items())
            if application in (None, key[0]) and facility in (None, key[1])
        ]  # fmt: skip

    async def count(self, application: str, facility: str) -> int:
        return len(await self.all(application, facility))

    async def history(
        self, application: str | None = None, facility: str | None = None
    ) -> list[LocalCodeChange]:
        return [
            change for change in self.changes
            if application in (None, change.application) and facility in (None, change.facility)
        ]  # fmt: skip

    def sender_removed(self, application: str, facility: str) -> None:
        for key in [key for key in self.kept if key[:2] == (application, facility)]:
            del self.kept[key]
            self._record(key, None)

    def _record(self, key: MappingKey, loinc: str | None) -> None:
        at = ADDED_AT + timedelta(minutes=len(self.changes))
        self.changes.append(LocalCodeChange(*key, loinc, at))

    def _live(self) -> dict[MappingKey, KeptLocalCode]:
        return {key: kept for key, kept in self.kept.items() if key[:2] in self.allowed}


def _key(mapping: LocalCode) -> MappingKey:
    return (mapping.application, mapping.facility, *mapping.key)


@dataclass
class FakeSenderAdminUnitOfWork:
    sources: FakeAllowList = field(default_factory=FakeAllowList)
    tokens: FakeLabTokens = field(default_factory=FakeLabTokens)
    codes: FakeLocalCodes = field(default_factory=FakeLocalCodes)
    commits: int = 0
    entered: int = 0
    open: bool = False
    _codes_before: dict[MappingKey, KeptLocalCode] = field(default_factory=dict)
    _changes_before: list[LocalCodeChange] = field(default_factory=list)
    _committed: bool = False

    def __post_init__(self) -> None:
        self.codes.allowed = self.sources.senders  # one allow-list, as in the database
        self.sources.removed = self.codes.sender_removed

    async def __aenter__(self) -> Self:
        assert not self.open, "a unit of work entered twice at once"
        self.entered += 1
        self.open = True
        self._codes_before = dict(self.codes.kept)  # what a rollback restores
        self._changes_before = list(self.codes.changes)
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.open = False
        if not self._committed:  # rolled back, as the real one is (the mappings and their
            self.codes.kept = self._codes_before  # changes: the rest of the fake's state is
            self.codes.changes = self._changes_before  # read only)

    async def commit(self) -> None:
        assert self.open, "committed outside the unit of work"
        self.commits += 1
        self._committed = True
