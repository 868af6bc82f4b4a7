"""The HL7 acknowledgement of a message's outcome (``hl7_flow``): AA once stored, AE for
content that cannot be used, AR for a message rejected whole or a failure to resend after;
MSA-3 says what was done, ERR where the error is."""

from __future__ import annotations

import uuid
from dataclasses import replace

from services.lab_ingestion.adapters.hl7_ack import UNSUPPORTED_VERSION, Condition, build_ack
from services.lab_ingestion.adapters.hl7_codec import Header
from services.lab_ingestion.adapters.hl7_error_location import error_location
from services.lab_ingestion.entrypoints.outcomes import MESSAGE_REJECTIONS
from services.lab_ingestion.service_layer.commands import IngestOutcome, held_elsewhere_text


def hl7_answer(
    header: Header | None,
    outcome: IngestOutcome,
    condition: Condition | None = None,
    *,
    charset: str | None,
) -> tuple[str, str]:
    """The ACK code (AA, AE, AR) and the ACK message answering ``outcome``. ``charset``: the
    table 0211 name of the set the ACK is sent in (None: ASCII)."""
    if outcome.accepted:
        code, reason = "AA", _accepted_text(outcome)
    else:
        # AR also when the system failed (HL7 original mode: rejected for reasons
        # unrelated to the content, so senders resend it); AE means the content is unusable
        rejected = outcome.transient or outcome.code in MESSAGE_REJECTIONS
        code = "AR" if rejected else "AE"
        reason = outcome.reason
    ack = build_ack(
        replace(header or Header(), charset=charset), code, text=reason,
        error=outcome.code, condition=condition, control_id=uuid.uuid4().hex[:20],
        location=None if code == "AA" else error_location(
            outcome.code, outcome.failed_observation,
            version_refused=condition == UNSUPPORTED_VERSION, place=outcome.failed_place,
        ),
    )  # fmt: skip
    return code, ack


def _accepted_text(outcome: IngestOutcome) -> str:
    held = held_elsewhere_text(outcome.held_elsewhere)
    if outcome.duplicate and outcome.held_elsewhere:
        return f"accepted; {held}"
    if outcome.duplicate:
        return "duplicate message; already stored"
    if not outcome.enrolled:
        return "accepted; patient not enrolled, discarded"
    cancelled = f", {outcome.cancelled} earlier result(s) cancelled" if outcome.cancelled else ""
    left_out = f"; {held}" if outcome.held_elsewhere else ""
    return f"accepted; {outcome.results} result(s) stored{cancelled}{left_out}"
