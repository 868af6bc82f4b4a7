"""What an HL7 input is answered and kept as when a step of ours fails on it (a defect of
ours, not the message's fault), wherever it runs: on the event loop or on the worker thread
that parses or redacts a large message (``shared.worker_threads``). Review 232: a failure
redacting a large rejected message closed the MLLP connection with no ACK and answered
HTTP 500, nothing kept.

- Its redaction failed: the input is kept and answered as its rejection says, its copy
  ``COPY_NOT_MADE`` (nothing of it unredacted is ever kept; the row says why).
- Any other step that answers no error itself failed: AR "resend" (HTTP 503), as when the
  service fails, nothing kept (``failed_answer``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from services.lab_ingestion.adapters.hl7_charset import UTF_8_NAME, decode_message
from services.lab_ingestion.adapters.hl7_codec import Header, read_header
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.entrypoints.hl7_answers import hl7_answer
from services.lab_ingestion.entrypoints.outcomes import count_outcome, failed_outcome
from services.lab_ingestion.service_layer.transactions import COPY_NOT_MADE
from shared.contracts.events.lab import Channel
from shared.worker_threads import failure_name

log = logging.getLogger(__name__)

# MSA-3 of an AR answering a failure of the service's own (HTTP 503): nothing was kept
INTERNAL_ERROR_TEXT = "temporary internal error; nothing was stored, resend"


async def copy_or_not_made(redacting: Awaitable[str]) -> str:
    """A rejected input's redacted copy, or ``COPY_NOT_MADE`` if its redaction failed."""
    try:
        return await redacting
    except Exception as exc:  # the type only: an error's text can quote the input
        log.error("redacting a rejected HL7 message failed; its copy is not kept",
                  extra={"error": failure_name(exc)})  # fmt: skip
        return COPY_NOT_MADE


def failed_answer(
    raw: bytes, channel: Channel, error: Exception, metrics: LabIngestionMetrics
) -> tuple[str, str, bool]:
    """The ACK code, the ACK and True (nothing stored: HTTP answers 503) for an input on
    which a step failed that answers no error itself: AR "resend", counted as a failure."""
    log.error("answering an HL7 message failed; answered AR to resend",
              extra={"error": failure_name(error)})  # fmt: skip
    outcome = failed_outcome(error, INTERNAL_ERROR_TEXT)
    count_outcome(metrics, channel.value, "unknown", outcome)
    header, charset = _echoed(raw, channel)
    return (*hl7_answer(header, outcome, charset=charset), True)


def _echoed(raw: bytes, channel: Channel) -> tuple[Header | None, str | None]:
    """The header an answer echoes and the character set it is sent in (as
    ``Hl7Acknowledger``'s), as far as they can still be read (else: no MSH, in ASCII)."""
    try:
        decoded = decode_message(raw)
        charset = decoded.charset if channel is Channel.MLLP else UTF_8_NAME
        return read_header(decoded.text), charset
    except Exception:
        return None, None
