"""Helpers for lab-ingestion tests: its real interfaces (MLLP socket, HTTP) and database."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from services.lab_ingestion.adapters.stored_ids import stored_id_hasher
from services.lab_ingestion.bootstrap import definition
from shared.db.migrations import migrate_service
from shared.db.pool import create_pool
from shared.service import ServiceDefinition

VT, FS, CR = b"\x0b", b"\x1c", b"\r"
MRN = "MRN4711"
NAME = "DOE^JOHN"
BIRTH = "19580214"
TS = "20261120081500+0100"
# how repositories and units of work built by tests store control ids and result keys
STORED_ID = stored_id_hasher(b"lab-ingestion tests' subject key, 32+ characters")
MIGRATION_0019 = (definition.migrations / "0019_stored_ids_hashed.sql").read_text()


def ids_as_written(written: str) -> str:
    """How lab-ingestion stored ids before migration 0019 (a repository's ``stored_id``)."""
    return written


async def as_before_migration_0019(conn: asyncpg.Connection) -> None:
    """lab-ingestion's tables as they were before migration 0019: ids are taken as written
    (executing MIGRATION_0019 again applies it over what was stored meanwhile)."""
    await conn.execute(
        "ALTER TABLE messages DROP CONSTRAINT messages_control_id_hashed;"
        " ALTER TABLE results DROP CONSTRAINT results_result_key_hashed"
    )


async def migrated_lab_pool(database: str, application_name: str, **sizes: int) -> asyncpg.Pool:
    """A pool on ``database`` once lab-ingestion's migrations are applied to it."""
    return await migrated_pool(definition, database, application_name, **sizes)


async def migrate_lab(database: str) -> None:
    """lab-ingestion's migrations (the platform-wide ones with them) applied to ``database``,
    as `cachexia migrate` or the service's start applies them: the operator commands only
    check that they are (review 156)."""
    conn = await asyncpg.connect(database)
    try:
        await migrate_service(
            conn, definition.schema, definition.migrations, definition.shared_migrations
        )
    finally:
        await conn.close()


async def migrated_pool(
    service: ServiceDefinition, database: str, application_name: str, **sizes: int
) -> asyncpg.Pool:
    """A pool on ``database`` in ``service``'s schema, once its migrations are applied."""
    conn = await asyncpg.connect(database)
    try:
        await migrate_service(conn, service.schema, service.migrations, service.shared_migrations)
    finally:
        await conn.close()
    return await create_pool(database, service.schema, application_name, **sizes)


async def migrate_before(
    service: ServiceDefinition, database: str, version: int, folder: Path
) -> None:
    """Apply ``service``'s migrations numbered below ``version`` (copied into ``folder``) to
    ``database``: its tables as an earlier version left them. Migrating with the service's
    own folder then applies the rest, as an upgrade does."""
    earlier = _copy_migrations_before(service, version, folder)
    conn = await asyncpg.connect(database)
    try:
        await migrate_service(conn, service.schema, earlier, service.shared_migrations)
    finally:
        await conn.close()


def _copy_migrations_before(service: ServiceDefinition, version: int, folder: Path) -> Path:
    folder.mkdir()
    for path in sorted(service.migrations.glob("*.sql")):
        if int(path.name[:4]) < version:
            shutil.copy(path, folder / path.name)
    return folder


def frame(message: str, encoding: str = "utf-8") -> bytes:
    return VT + message.encode(encoding) + FS + CR


def oru(
    control_id: str,
    observations: Sequence[str],
    *,
    mrn: str = MRN,
    application: str = "LIS",
    facility: str = "HOSP",
    version: str = "2.5.1",
    separator: str = "\r",
    order: str = "ORD1",
    order_time: str = TS,
    pid3: str | None = None,
) -> str:
    """An ORU^R01 with one OBR and the given OBX segments (without their set ids); PID-3 is
    ``pid3`` as given, else ``mrn`` as the HOSP medical record number."""
    identifiers = pid3 or f"{mrn}^^^HOSP^MR"
    segments = [
        f"MSH|^~\\&|{application}|{facility}|LENA|TRIAL|20261120090000+0100||ORU^R01|"
        f"{control_id}|P|{version}",
        f"PID|1||{identifiers}||{NAME}^^^^^L|SMITH|{BIRTH}|M|||1 Main St^^Bern^^3000^CH"
        "||+41311234567",
        "NK1|1|DOE^JANE|SPO",
        f"OBR|1|PLC1|{order}|LAB^Lab panel|||{order_time}",
    ]
    segments += [f"OBX|{i}|{obx}" for i, obx in enumerate(observations, start=1)]
    return separator.join(segments) + separator


def obx(
    loinc: str,
    value: str,
    unit: str,
    *,
    status: str = "F",
    sub_id: str = "",
    ref: str = "",
    observed: str = TS,
) -> str:
    """OBX fields 2..14 (value type through observation time)."""
    return f"NM|{loinc}^Test^LN|{sub_id}|{value}|{unit}|{ref}||||{status}|||{observed}"


class MllpClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> MllpClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def ack(self, timeout: float = 15) -> str:
        block = await asyncio.wait_for(self.reader.readuntil(FS + CR), timeout)
        assert block.startswith(VT), block
        return block[1:-2].decode()

    async def exchange(self, message: str) -> str:
        await self.send(frame(message))
        return await self.ack()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def msa(ack: str) -> list[str]:
    """The MSA fields of an ACK: [MSA, code, control id, text]."""
    for segment in ack.split("\r"):
        if segment.startswith("MSA"):
            return segment.split("|")
    raise AssertionError(f"no MSA in {ack!r}")


def ack_searched(ack: str) -> str:
    """An ACK as searched for a number it must not quote: without MSH-7 and MSH-10, the time
    and id its sender drew (at 14:02:58 UTC MSH-7 holds ``140258``; MSH-10 is random hex)."""
    header, *rest = ack.split("\r")
    fields = header.split("|")
    for drawn in (6, 9):  # MSH-7, MSH-10 (MSH-1 is the separator itself)
        if len(fields) > drawn:
            fields[drawn] = ""
    return "\r".join(["|".join(fields), *rest])


def payload_searched(payload: Mapping[str, Any]) -> str:
    """An event's payload as JSON, searched for a number it must not hold: without the
    rejection id the service drew (a uuid4 reads ``4711`` once in about 2,100 draws: its
    version group alone once in 4,096)."""
    return json.dumps({k: v for k, v in payload.items() if k != "rejection_id"}, default=str)


def crp_observation(identifier: str, unit: str = "mg/L") -> dict[str, Any]:
    """A FHIR CRP Observation of the patient ``MRN`` (20 ``unit``)."""
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:lab", "value": identifier}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "subject": {"identifier": {"system": "urn:hosp", "value": MRN}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {
            "value": 20,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


# lab-ingestion's own schema: every table of it is searched by ``tables_holding``
LAB_SCHEMA = "lab_ingestion"


async def tables_holding(pool: asyncpg.Pool, needle: str) -> list[str]:
    """The tables of lab-ingestion's schema with a row holding ``needle`` in any column (the
    row read as text: text, json and every other column, bytea in hex)."""
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
        LAB_SCHEMA,
    )
    names = [row["table_name"] for row in tables]
    assert {"messages", "results", "rejections", "outbox"} <= set(names), names
    found = []
    for name in names:
        query = f'SELECT count(*) FROM "{LAB_SCHEMA}"."{name}" AS r WHERE strpos(r::text, $1) > 0'
        if await pool.fetchval(query, needle):
            found.append(name)
    return found
