"""Hand-written fakes behind the allow-list administration's unit of work
(``service_layer.sender_admin``): the allow-list and the lab tokens kept in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from services.lab_ingestion.domain.allow_list import AllowedSender, LabToken, SettingsGiven
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
        return self.senders.pop((application, facility), None) is not None

    async def all(self) -> list[AllowedSender]:
        return [AllowedSender(a, f, s, ADDED_AT) for (a, f), s in sorted(self.senders.items())]

    async def sites_with_subjects(self) -> set[str]:
        return set(self.sites)


@dataclass
class FakeLabTokens:
    tokens: list[LabToken] = field(default_factory=list)  # those not revoked

    async def in_use(self) -> list[LabToken]:
        return list(self.tokens)


@dataclass
class FakeSenderAdminUnitOfWork:
    sources: FakeAllowList = field(default_factory=FakeAllowList)
    tokens: FakeLabTokens = field(default_factory=FakeLabTokens)
    commits: int = 0
    entered: int = 0
    open: bool = False

    async def __aenter__(self) -> Self:
        assert not self.open, "a unit of work entered twice at once"
        self.entered += 1
        self.open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.open = False

    async def commit(self) -> None:
        assert self.open, "committed outside the unit of work"
        self.commits += 1
