"""One ER7 message in, one ACK out: decode, parse, hand on, acknowledge.

Shared by the MLLP listener and ``POST /v1/hl7``. The ACK is built only after the service
layer answered, and the service layer answers only after the batch committed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial

from services.lab_ingestion.adapters.hl7_ack import (
    DATA_TYPE_ERROR,
    INTERNAL_ERROR,
    Condition,
)
from services.lab_ingestion.adapters.hl7_charset import (
    UTF_8_NAME,
    DecodedMessage,
    decode_message,
)
from services.lab_ingestion.adapters.hl7_codec import (
    PRODUCTION,
    Header,
    Hl7InputError,
    parse_oru,
    read_header,
    redact,
)
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.local_codes import (
    NO_LOCAL_CODES,
    NO_MAPPINGS,
    LocalCodeTable,
    LocalKey,
)
from services.lab_ingestion.domain.model import LabMessage, RejectionCode
from services.lab_ingestion.entrypoints.copies import redacted_off_loop
from services.lab_ingestion.entrypoints.hl7_answers import hl7_answer
from services.lab_ingestion.entrypoints.hl7_failures import (
    INTERNAL_ERROR_TEXT,
    copy_or_not_made,
    failed_answer,
)
from services.lab_ingestion.entrypoints.outcomes import count_outcome, failed_outcome
from services.lab_ingestion.service_layer.commands import (
    Command,
    IngestLabMessage,
    IngestOutcome,
    Received,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.unlisted_copies import MAX_CHARS
from shared.contracts.envelope import utc_now
from shared.contracts.events.lab import Channel
from shared.worker_threads import failure_name, on_worker_thread

log = logging.getLogger(__name__)

Submit = Callable[[Command], Awaitable[IngestOutcome]]
Listed = Callable[[tuple[str, str]], bool | None]  # a sender on the allow-list? (None: unknown)


# beyond this, parsing takes tens of milliseconds (python-hl7: about 5 us a separator)
LARGE_MESSAGE_CHARS = 64 * 1024


async def no_local_codes() -> LocalCodeTable:
    """No sender's local codes mapped (a deployment without the table: tests)."""
    return NO_LOCAL_CODES


class Hl7Acknowledger:
    def __init__(
        self,
        submit: Submit,
        hash_identifier: Callable[[str], str],
        metrics: LabIngestionMetrics,
        *,
        processing_id: str = PRODUCTION,
        local_codes: Callable[[], Awaitable[LocalCodeTable]] = no_local_codes,
        listed: Listed = lambda sender: None,
        unlisted_copy_chars: int = MAX_CHARS,
    ) -> None:
        self._submit = submit
        self._hash = hash_identifier
        self._metrics = metrics
        self._processing_id = processing_id  # MSH-11 of the messages this deployment takes
        self._local_codes = local_codes  # every sender's local codes mapped, as last read
        # an MLLP input whose copy will not be kept (``unlisted_copies``) is not redacted
        self._listed = listed
        self._unlisted_copy_chars = unlisted_copy_chars

    async def acknowledge(
        self, raw: bytes, channel: Channel, *, peer: str | None = None
    ) -> tuple[str, str]:
        """The ACK code (AA, AE, AR) and the ACK message for one inbound message. ``peer``:
        the MLLP peer's address (``unlisted_copies``)."""
        code, ack, _ = await self.acknowledge_outcome(raw, channel, peer=peer)
        return code, ack

    async def acknowledge_outcome(
        self,
        raw: bytes,
        channel: Channel,
        permitted_senders: frozenset[str] | None = None,
        *,
        peer: str | None = None,
    ) -> tuple[str, str, bool]:
        """As ``acknowledge``, and whether nothing was stored because the service failed
        (an AR to resend, which HTTP answers 503). ``permitted_senders``: those the HTTP
        caller's token may deliver as (None: any). An internal error no step answers is
        answered so too, never left unanswered (``hl7_failures.failed_answer``)."""
        try:
            return await self._acknowledge(raw, channel, permitted_senders, peer)
        except Exception as exc:
            return failed_answer(raw, channel, exc, self._metrics)

    async def _acknowledge(
        self,
        raw: bytes,
        channel: Channel,
        permitted_senders: frozenset[str] | None,
        peer: str | None,
    ) -> tuple[str, str, bool]:
        decoded = decode_message(raw)
        text, received_at = decoded.text, utc_now()
        # HTTP answers in UTF-8; MLLP in the set the message was read in (``MllpServer``)
        charset = decoded.charset if channel is Channel.MLLP else UTF_8_NAME
        local_codes = await self._local_codes()  # the parse and the kept copy read the same
        reject = partial(self._reject, text, channel=channel, received_at=received_at,
                         permitted_senders=permitted_senders, charset=charset,
                         local_codes=local_codes, peer=peer)  # fmt: skip
        try:
            _check_charset(decoded)
            message, header = await self._parse(text, channel, local_codes)
        except Hl7InputError as error:
            return await reject(error)
        except Exception as exc:  # a parser defect: the input is still answered and kept
            log.error("parsing an HL7 message failed unexpectedly",
                      extra={"error": failure_name(exc)})  # fmt: skip
            unparseable = Hl7InputError(
                RejectionCode.MALFORMED, f"unparseable HL7: {failure_name(exc)}",
                condition=INTERNAL_ERROR,  # our own defect, whatever the message holds
            )  # fmt: skip
            return await reject(unparseable)
        sender = (message.source_application, message.source_facility)
        received = self._received(text, channel)
        if self._kept(received, sender):
            mapped = local_codes.of_sender(*sender)
            copy = await redacted_off_loop(partial(redact, text, self._hash, mapped), len(text))
        else:  # an unknown sender's copy not kept: not made
            copy = _no_copy
        command = IngestLabMessage(
            message, copy, received_at, permitted_senders=permitted_senders, peer=peer,
            received=received,
        )  # fmt: skip
        outcome = await self._submit_or_error(command)
        count_outcome(self._metrics, channel.value, message.source, outcome)
        return (*hl7_answer(header, outcome, charset=charset), outcome.transient)

    async def _parse(
        self, text: str, channel: Channel, local_codes: LocalCodeTable
    ) -> tuple[LabMessage, Header]:
        """A large message is parsed on a worker thread: the parser holds the GIL, but the
        event loop still gets its turns, and other senders' ACKs are late, never frozen."""
        parse = partial(
            parse_oru, text, channel, identify=self._hash, processing_id=self._processing_id,
            local_codes=local_codes,
        )  # fmt: skip
        return await on_worker_thread(parse) if len(text) > LARGE_MESSAGE_CHARS else parse()

    async def _redact(self, text: str, mapped: Mapping[LocalKey, str] = NO_MAPPINGS) -> str:
        """As ``_parse``: a large message is redacted on a worker thread (its scrubbing is
        about a second a megabyte). ``mapped``: the sender's local code mappings."""
        if len(text) > LARGE_MESSAGE_CHARS:
            return await on_worker_thread(redact, text, self._hash, mapped)
        return redact(text, self._hash, mapped)

    async def _reject(
        self,
        text: str,
        error: Hl7InputError,
        *,
        channel: Channel,
        received_at: datetime,
        permitted_senders: frozenset[str] | None,
        charset: str | None,
        local_codes: LocalCodeTable,
        peer: str | None,
    ) -> tuple[str, str, bool]:
        header = error.header or read_header(text)
        source = f"{header.sending_application}^{header.sending_facility}" if header else None
        sender = (header.sending_application, header.sending_facility) if header else None
        received = self._received(text, channel)
        redacted = "" if not self._kept(received, sender) else await copy_or_not_made(
            self._redact(text, local_codes.of_sender(*sender) if sender else NO_MAPPINGS)
        )  # fmt: skip
        kept_header = read_header(redacted)  # MSH-10 with any hospital number scrubbed
        command = RecordRejectedInput(
            channel, error.code, error.reason, redacted, received_at,
            source=source, control_id=kept_header.control_id if kept_header else None,
            sender=sender if channel is Channel.MLLP else None,  # HTTP callers hold a token
            permitted_senders=permitted_senders, peer=peer, received=received,
        )  # fmt: skip
        outcome = await self._submit_or_error(command)
        count_outcome(self._metrics, channel.value, _label(source, command, outcome), outcome)
        condition = error.condition if outcome.code is error.code else None
        return (*hl7_answer(header, outcome, condition, charset=charset), outcome.transient)

    async def reject_frame(
        self,
        raw: bytes,
        code: RejectionCode,
        reason: str,
        *,
        condition: Condition | None = None,
        header_from: bytes | None = None,
        peer: str | None = None,
    ) -> str:
        """Keep a broken MLLP frame and answer AR (header echoed when it can be read: from
        ``header_from`` when given, the MSH of a frame over the size limit, which is not
        kept; in the character set it is read in). ``condition``: HL7 table 0357's, when
        finer than ``code``'s. A frame names no sender: its copy is bounded as an unknown
        sender's (not made when it would not be kept). A defect: ``failed_answer``."""
        try:
            decoded = decode_message(raw)
            received = self._received(decoded.text, Channel.MLLP)
            redacted = (
                ""
                if not self._kept(received, None)
                else await copy_or_not_made(self._redact(decoded.text))
            )
            command = RecordRejectedInput(
                Channel.MLLP, code, reason, redacted, utc_now(), peer=peer, received=received
            )
            outcome = await self._submit_or_error(command)
            count_outcome(self._metrics, Channel.MLLP.value, "unknown", outcome)
            answered = decoded if header_from is None else decode_message(header_from)
            condition = condition if outcome.code is code else None
            header = read_header(answered.text)
            return hl7_answer(header, outcome, condition, charset=answered.charset)[1]
        except Exception as exc:  # a defect: answered resend, never left unanswered
            return failed_answer(header_from or raw, Channel.MLLP, exc, self._metrics)[1]

    def _received(self, text: str, channel: Channel) -> Received | None:
        """An MLLP input longer than an unknown sender's copy may be, as received (its
        length and SHA-256, which its rejection names if its copy is not kept)."""
        if channel is not Channel.MLLP or len(text) <= self._unlisted_copy_chars:
            return None
        return Received(len(text), hashlib.sha256(text.encode(errors="surrogatepass")).hexdigest())

    def _kept(self, received: Received | None, sender: tuple[str, str] | None) -> bool:
        """Whether an input's copy may be kept, so is to be made: not when it is longer
        than an unknown sender's may be (``received``) and its sender is not on the
        allow-list as last read, or names none (the service layer decides otherwise;
        redacting a megabyte takes a second of CPU, review 132)."""
        return received is None or (sender is not None and self._listed(sender) is not False)

    async def _submit_or_error(self, command: Command) -> IngestOutcome:
        try:
            return await self._submit(command)
        except Exception as exc:  # the sender must try again (stored, or nothing was)
            # the type only: an error's text can quote the input (asyncpg's DETAIL)
            log.error("could not process an HL7 message; answered AR to resend",
                      extra={"error": type(exc).__name__})  # fmt: skip
            return failed_outcome(exc, INTERNAL_ERROR_TEXT)


def _no_copy() -> str:
    return ""


def _check_charset(decoded: DecodedMessage) -> None:
    """A message not valid in the character set its MSH-18 declares is malformed: read in
    another set, a hospital number would match no enrolment (the reason names the set, from
    HL7 table 0211, never the bytes)."""
    if decoded.broken is not None:
        raise Hl7InputError(
            RejectionCode.MALFORMED,
            f"the message is not valid in the character set its MSH-18 declares ({decoded.broken})",
            read_header(decoded.text),
            DATA_TYPE_ERROR,
        )


def _label(source: str | None, command: RecordRejectedInput, outcome: IngestOutcome) -> str:
    """A rejection's source label: the sender once the service found it allowed (an MLLP
    sender on the allow-list, or one the HTTP caller's token is bound to), else "unknown"
    (a label is never whatever a sender wrote: the metric's labels stay few)."""
    checked = command.sender is not None or (
        command.permitted_senders is not None and source in command.permitted_senders
    )
    allowed = outcome.code is not None and outcome.code is not RejectionCode.UNKNOWN_SOURCE
    return source if source and checked and allowed else "unknown"
