"""The unit of work of the allow-list's administration (``service_layer.sender_admin``): one
connection of its own (a command's, not the service's pool), one transaction, with the
allow-list, the lab tokens and the senders' local codes bound on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.lab_ingestion.adapters import local_codes, sources
from services.lab_ingestion.adapters.admin_work import ReadCommittedWork
from services.lab_ingestion.domain.allow_list import AllowedSender, LabToken, SettingsGiven
from services.lab_ingestion.domain.local_codes import KeptLocalCode, LocalCode, LocalCodeChange
from services.lab_ingestion.domain.records import Sender
from shared.auth import Role, list_tokens


class SourceRepository:
    """``lab_ingestion.sources`` (and the sites of the subject directory's copy)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, application: str, facility: str, given: SettingsGiven) -> bool:
        return await sources.add_source(
            self._conn, application, facility, time_zone=given.time_zone,
            site_id=given.site_id, identifier_authority=given.identifier_authority,
            cleared=given.cleared,
        )  # fmt: skip

    async def settings(self, application: str, facility: str) -> Sender | None:
        return await sources.sender_settings(self._conn, application, facility)

    async def remove(self, application: str, facility: str) -> bool:
        return await sources.remove_source(self._conn, application, facility)

    async def all(self) -> list[AllowedSender]:
        return await sources.list_sources(self._conn)

    async def sites_with_subjects(self) -> set[str]:
        return await sources.enrolled_sites(self._conn)


class LabTokenDirectory:
    """The lab tokens of ``auth.api_tokens`` (the platform's migrations made the schema)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def in_use(self) -> list[LabToken]:
        return [
            LabToken(t.name, t.senders)
            for t in await list_tokens(self._conn)
            if t.role is Role.LAB and t.revoked_at is None
        ]


class LocalCodeRepository:
    """``lab_ingestion.local_codes``: the senders' local test codes mapped to LOINC, and
    their changes (``local_code_changes``)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, mapping: LocalCode) -> str | None:
        return await local_codes.add_local_code(self._conn, mapping)

    async def remove(
        self, application: str, facility: str, system: str, code: str
    ) -> LocalCode | None:
        return await local_codes.remove_local_code(self._conn, application, facility, system, code)

    async def all(
        self, application: str | None = None, facility: str | None = None
    ) -> list[KeptLocalCode]:
        return await local_codes.list_local_codes(self._conn, application, facility)

    async def count(self, application: str, facility: str) -> int:
        return await local_codes.count_local_codes(self._conn, application, facility)

    async def history(
        self, application: str | None = None, facility: str | None = None
    ) -> list[LocalCodeChange]:
        return await local_codes.list_local_code_changes(self._conn, application, facility)


class SenderAdminUnitOfWork(ReadCommittedWork):
    """Connects on entry (``connect``) and closes the connection on exit; read committed
    (``admin_work``): an add of a code another transaction is adding waits for it, then
    reads what it kept (``add_local_code``)."""

    sources: SourceRepository
    tokens: LabTokenDirectory
    codes: LocalCodeRepository

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]]) -> None:
        super().__init__()
        self._connect = connect

    async def _connection(self) -> Any:
        return await self._connect()

    async def _let_go(self, conn: Any) -> None:
        await conn.close()

    def _bind(self, conn: asyncpg.Connection) -> None:
        self.sources = SourceRepository(conn)
        self.tokens = LabTokenDirectory(conn)
        self.codes = LocalCodeRepository(conn)
