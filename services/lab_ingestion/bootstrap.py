"""Composition root of lab-ingestion: builds the real adapters and hands them to the runtime."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path

import asyncpg

from services.lab_ingestion.adapters.former_numbers import keep_former_number
from services.lab_ingestion.adapters.hl7_codec import (
    Hl7InputError,
    parse_oru,
    silence_library_logging,
)
from services.lab_ingestion.adapters.local_code_cache import LocalCodeCache
from services.lab_ingestion.adapters.local_codes import read_local_code_table
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.adapters.stored_ids import (
    StoredId,
    hash_ids_stored_as_written,
    stored_id_hasher,
)
from services.lab_ingestion.adapters.unit_of_work import LabIngestionUnitOfWork
from services.lab_ingestion.domain.kept_copy import kept_copy_hash
from services.lab_ingestion.domain.local_codes import LocalCodeTable
from services.lab_ingestion.domain.model import LabMessage
from services.lab_ingestion.domain.normalise import UnitParameters
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.entrypoints.http import LabRoutes
from services.lab_ingestion.entrypoints.mllp import MllpListener
from services.lab_ingestion.entrypoints.mllp_limits import shutdown_grace
from services.lab_ingestion.entrypoints.openapi import OPENAPI_PATHS
from services.lab_ingestion.service_layer.commands import Command, IngestOutcome
from services.lab_ingestion.service_layer.directory_gate import DirectoryGate
from services.lab_ingestion.service_layer.former_numbers import keeping_former_numbers
from services.lab_ingestion.service_layer.group_commit import GroupCommitter
from services.lab_ingestion.service_layer.ingest import BatchIngestor
from services.lab_ingestion.service_layer.late_enrolments import (
    DiscardedNumbers,
    enrolment_reader,
)
from services.lab_ingestion.service_layer.replay import ReadCopy, Replayer
from services.lab_ingestion.service_layer.unlisted_copies import UnlistedCopies
from services.lab_ingestion.service_layer.unprocessable import keep_unprocessable
from shared.addresses import host_port
from shared.contracts.events.lab import Channel
from shared.contracts.events.trial import SubjectEnrolled
from shared.contracts.identity import hospital_id_hmac
from shared.db.pool import TRANSIENT_DB_ERRORS, ReservedConnections
from shared.db.pooled import pooled
from shared.key_fingerprint import check_key_fingerprint
from shared.metrics import ProtocolMetrics
from shared.protocol import Protocol
from shared.secrets import subject_hmac_key, subject_key_origin
from shared.service import ServiceContext, ServiceDefinition, ServiceParts
from shared.settings import PlatformSettings
from shared.subjects import SUBJECT_MIGRATION_SET, subject_directory_consumer

NAME = "lab-ingestion"

log = logging.getLogger(__name__)


def build(context: ServiceContext) -> ServiceParts:
    silence_library_logging()
    settings = context.settings
    subject_key = subject_hmac_key(settings)
    hasher = partial(hospital_id_hmac, subject_key)
    stored_id = stored_id_hasher(subject_key)
    metrics = LabIngestionMetrics(context.registry)
    protocol = settings.protocol()  # checked when the settings were read: read as it is now
    ProtocolMetrics(context.registry, NAME, protocol.version)
    log.info(
        "protocol %s: its parameters are applied", protocol.version,
        extra={"protocol_version": protocol.version, "protocol_file": str(settings.protocol_file)},
    )  # fmt: skip
    discards = DiscardedNumbers()
    # until the subject directory has read what was enrolled before the start, a patient not
    # found is answered "resend", not discarded (directory_gate); the runtime opens it
    directory = DirectoryGate()
    connections = ReservedConnections(context.pool, keep=1)
    # what an MLLP input from a sender not on the allow-list, or naming none, may leave
    unlisted = UnlistedCopies(
        settings.mllp_unlisted_copy_chars, settings.mllp_unlisted_copies_per_minute,
        on_not_kept=metrics.unlisted_not_kept.inc,
    )  # fmt: skip

    def committed(seconds: float) -> None:  # every write committed, events or none (a
        # preliminary result publishes none): timed, and the write-health gauge moves, once a
        # batch, not a message (review 151: it stood still on writes without events)
        metrics.commit_duration.observe(seconds)
        metrics.last_commit.set_to_current_time()

    ingestor = BatchIngestor(
        lambda: LabIngestionUnitOfWork(
            connections, NAME, stored_id, committed, context.outbox_written
        ),
        hasher,
        params=unit_parameters(protocol),
        on_replan=metrics.replanned.inc,
        on_discarded=discards.note, directory_caught_up=directory.is_open,
        unlisted_copies=unlisted,
    )  # fmt: skip
    # One committer: batches are planned and written one after the other, so a correction
    # never races the result it corrects (two concurrent batches would each see the chain as
    # it was before both; other instances are held off by the chain lock, see ingest.py).
    # Overlapping writes measured no faster on two cores.
    local_codes = LocalCodeCache(context.pool)

    async def copy_reader() -> ReadCopy:  # a failed message's copy read as a replay reads it
        return kept_copy_reader(settings.lab_ingestion_processing_id, await local_codes.table())

    committer: GroupCommitter[Command, IngestOutcome] = GroupCommitter(
        ingestor, transient=TRANSIENT_DB_ERRORS, max_batch=settings.ingest_batch_size,
        concurrency=1,
        on_failure=partial(
            keep_unprocessable, ingestor, identify=hasher, transient=TRANSIENT_DB_ERRORS,
            copy_reader=copy_reader,
        ),
        on_settled=ingestor.forget_attempt,
    )  # fmt: skip
    metrics.commit_waiting.set_function(lambda: committer.waiting)
    acknowledger = Hl7Acknowledger(
        committer.submit, hasher, metrics, processing_id=settings.lab_ingestion_processing_id,
        local_codes=local_codes.table, listed=ingestor.listed,
        unlisted_copy_chars=settings.mllp_unlisted_copy_chars,
    )  # fmt: skip
    # at shutdown, the frames being answered get their ACK within a share of the deadline
    mllp = MllpListener(
        acknowledger, metrics, settings.bind_host, settings.lab_ingestion_mllp_port,
        settings.mllp_max_message_bytes,
        shutdown_grace_seconds=shutdown_grace(settings.shutdown_deadline_seconds),
        frame_stall_seconds=settings.mllp_frame_stall_seconds,
        frame_deadline_seconds=settings.mllp_frame_deadline_seconds,
        send_seconds=settings.mllp_send_seconds,
    )  # fmt: skip
    routes = LabRoutes(
        committer.submit, acknowledger, hasher, metrics,
        processing_id=settings.lab_ingestion_processing_id,
        body_seconds=settings.lab_ingestion_http_body_seconds,
        max_requests=settings.lab_ingestion_http_max_requests,
    )  # fmt: skip

    async def serve_mllp(stopping: asyncio.Event) -> None:
        await mllp.serve(stopping)

    async def commit(stopping: asyncio.Event) -> None:
        try:
            await committer.run(stopping)
        finally:
            await connections.close()  # before the runtime closes the pool

    # enrolments read after results for their number were discarded are reported
    # (late_enrolments); a corrected enrolment's former number is kept (former_numbers)
    read_enrolment = keeping_former_numbers(
        enrolment_reader(discards, metrics.late_enrolments.inc), keep_former_number
    )
    subject_directory = subject_directory_consumer(
        NAME, context.pool, {SubjectEnrolled.event_type: read_enrolment},
        on_caught_up=directory.caught_up,
    )  # fmt: skip
    return ServiceParts(
        routes=routes.routes(),
        openapi_paths=OPENAPI_PATHS,
        consumers=[subject_directory],
        background=[commit, serve_mllp, local_codes.keep_fresh],
        addresses={"mllp": host_port(settings.bind_host, settings.lab_ingestion_mllp_port)},
        listening=[mllp.listening],
        readiness={"subject_directory": directory.is_open},
        after_migrations=[  # the key is checked before anything is hashed with it
            partial(_check_key, key=subject_key, origin=subject_key_origin(settings)),
            partial(_hash_ids_stored_as_written, stored_id=stored_id),
            local_codes.load,  # before any message is read
        ],
    )


def unit_parameters(protocol: Protocol) -> UnitParameters:
    """The unit conversions' laboratory conventions the protocol sets (its [lab_ingestion])."""
    return UnitParameters(crp_nmol_per_mg_l=protocol.lab_ingestion.crp_nmol_per_mg_l)


async def _check_key(conn: asyncpg.Connection, key: bytes, origin: str) -> str:
    recorded = await check_key_fingerprint(conn, key, origin)
    return "subject_key: the patient-matching key's fingerprint recorded" if recorded else ""


async def _hash_ids_stored_as_written(conn: asyncpg.Connection, stored_id: StoredId) -> str:
    changed = await hash_ids_stored_as_written(conn, stored_id)
    return f"lab_ingestion: {changed} stored ids hashed (migration 0019)" if changed else ""


async def checked_stored_id(pool: asyncpg.Pool, settings: PlatformSettings) -> StoredId:
    """An operator command's hasher of stored ids, under the platform's key: the key read
    (never created: SubjectKeyError) and checked against the fingerprint the platform
    recorded (SubjectKeyMismatch), as the service checks it at its start."""
    key = subject_hmac_key(settings)
    async with pooled(pool) as conn:
        await check_key_fingerprint(conn, key, subject_key_origin(settings), record=False)
    return stored_id_hasher(key)


async def hash_ids_left_as_written(pool: asyncpg.Pool, stored_id: StoredId) -> None:
    """What the service does at its start before it reads or writes ids: those an earlier
    version stored as written are hashed (``cachexia replay`` and ``message show``
    may run before the upgraded service ever started)."""
    async with pooled(pool) as conn:
        await hash_ids_stored_as_written(conn, stored_id)


async def build_replayer(
    pool: asyncpg.Pool, settings: PlatformSettings, stored_id: StoredId
) -> Replayer:
    """``cachexia replay``'s replay of one kept rejection, on ``pool`` (lab-ingestion's
    schema): the copy read as HL7 is, with the senders' local codes as mapped now, ingested
    by a batch ingestor of its own that takes kept copies' hashes as computed (it writes as
    another instance would: chains locked, the write checked; the running service's relay
    publishes what it stores)."""
    silence_library_logging()  # python-hl7 would log a field it cannot read, whole
    async with pooled(pool) as conn:
        local_codes = await read_local_code_table(conn)
    connections = ReservedConnections(pool, keep=0)
    ingestor = BatchIngestor(
        lambda: LabIngestionUnitOfWork(connections, NAME, stored_id), kept_copy_hash,
        params=unit_parameters(settings.protocol()), reads_kept_copies=True,
    )  # fmt: skip

    return Replayer(kept_copy_reader(settings.lab_ingestion_processing_id, local_codes), ingestor)


def kept_copy_reader(processing_id: str, local_codes: LocalCodeTable) -> ReadCopy:
    """A kept copy read as ``cachexia replay`` reads it: as HL7, its patient's number the
    keyed hash it holds, with the senders' local codes ``local_codes`` (ValueError: why it
    cannot be read). The service reads a failed message's copy so too, before it tells the
    lab not to resend it (``unprocessable.will_replay``)."""

    def read_copy(rejection: KeptRejection) -> LabMessage:
        try:
            message, _ = parse_oru(
                rejection.payload, Channel(rejection.channel), identify=kept_copy_hash,
                processing_id=processing_id, local_codes=local_codes,
            )  # fmt: skip
        except Hl7InputError as error:
            raise ValueError(error.reason) from None
        return message

    return read_copy


definition = ServiceDefinition(
    name=NAME,
    schema="lab_ingestion",
    migrations=Path(__file__).resolve().parent / "migrations",
    build=build,
    shared_migrations=(SUBJECT_MIGRATION_SET,),
)
