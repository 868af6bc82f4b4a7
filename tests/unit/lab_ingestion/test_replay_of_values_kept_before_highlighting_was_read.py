"""A critical value sent in bold, refused before highlighting was read, replays (review 71).

What went wrong: commit 001e130 reads HL7's highlighting escapes in a trial OBX-5 as
nothing (``\\H\\0.3\\N\\`` is 0.3; before it read ``_0.3_`` and the message was refused
``non-numeric-value``, kept). The README's remedy for a rejection whose cause is fixed is
``cachexia replay``. But a kept rejection carries the content digest of the message *as
the previous version read it* (value ``_0.3_``), and ``replay.checked_copy`` refuses a copy
whose digest, read by today's parser (value ``0.3``), differs: "its kept copy does not read
as the message did (the redaction changed what it says)". So exactly the results the fix
was for -- critical counts laboratories highlight, a grade-4 ANC of 0.3 -- cannot be
recovered by replay, and the reason given (the redaction) is wrong. Laboratories do not
resend what was answered AE, so the value stays lost unless someone asks the lab by hand.

What happens now: a copy whose only difference from the digest kept is a reading this
service changed since (highlighting read as nothing) is replayable: the check compares
with the digest the copy has under the reading the rejection was kept with (or both).
``replay.checked_copy`` also accepts the digest of the copy read with the previous
highlight reading (``\\H\\``/``\\N\\`` in OBX-5 as ``_``: ``highlighting_as_read_before``);
any other difference is refused as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters import hl7_escapes
from services.lab_ingestion.adapters.hl7_codec import parse_oru, redact
from services.lab_ingestion.domain.message_identity import content_digest
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from services.lab_ingestion.service_layer.kept_copy_text import highlighting_as_read_before
from services.lab_ingestion.service_layer.replay import Replayer, ReplayRefused
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_replay import RecordingIngest, read_copy

AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)

BOLD_ANC = (
    "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|C-78|P|2.5.1\r"
    "PID|1||MRN77^^^HOSP^MR||DOE^JANE||19600101\r"
    "OBR|1||F78|||20261120081512+0100\r"
    "OBX|1|NM|751-8^Neutrophils^LN||\\H\\0.3\\N\\|10*9/L|1.8-7.5|LL|||F|||20261120081512+0100\r"
)


def keyed_hash(number: str) -> str:
    return hashlib.sha256(f"key:{number}".encode()).hexdigest()


def _kept_before_today(value_then: str = "_0.3_", text: str = BOLD_ANC) -> KeptRejection:
    """The rejection as yesterday's service kept it: its copy, the patient's hash and the
    digest of the message as it read it then (python-hl7 reads ``\\H\\``/``\\N\\`` as
    ``_``: the value was ``_0.3_``; checked against the 57d78d9 parser, same digest)."""
    message, _ = parse_oru(text, identify=keyed_hash)
    (anc,) = message.observations
    as_read_then = dataclasses.replace(
        message, observations=(dataclasses.replace(anc, value=value_then),)
    )
    patient_hmac = keyed_hash("MRN77")
    return KeptRejection(
        uuid.uuid4(), Channel.MLLP.value, "LIS^HOSP", message.control_id,
        "non-numeric-value", "neutrophils value is not a number", redact(text, keyed_hash),
        AT, patient_hmac, content_digest(as_read_then, patient_hmac), None, None,
    )  # fmt: skip


async def test_a_bold_critical_anc_refused_before_the_fix_is_replayable_after_it() -> None:
    assert parse_oru(BOLD_ANC, identify=keyed_hash)[0].observations[0].value == "0.3"  # now
    rejection, ingest = _kept_before_today(), RecordingIngest()
    try:
        replayed = await Replayer(read_copy, ingest).replay(rejection)
    except ReplayRefused as refused:
        raise AssertionError(
            f"the grade-4 ANC refused for its highlighting cannot be replayed now that "
            f"highlighting is read: {refused}"
        ) from None
    assert replayed.settled
    assert len(ingest.commands) == 1
    (command,) = ingest.commands
    assert isinstance(command, IngestLabMessage)
    assert command.message.observations[0].value == "0.3"  # replayed as read now


def test_a_copy_kept_since_highlighting_is_read_replays_as_before() -> None:
    message = Replayer(read_copy, RecordingIngest()).check(_kept_before_today("0.3"))
    assert message.observations[0].value == "0.3"


@pytest.mark.parametrize("value_then", ["_0.4_", "0.3", "_0.3", "0_.3_", ""])
def test_any_other_difference_is_refused_as_before(value_then: str) -> None:
    """Only what the highlighting read as then: another value (``_0.4_``), or one read with
    a mark left out or moved, is a copy that says something else."""
    kept = _kept_before_today(value_then)
    if value_then == "0.3":  # the digest of today's reading, of a copy that no longer has it
        kept = dataclasses.replace(kept, payload=kept.payload.replace("\\H\\0.3\\N\\", "0.4"))
    with pytest.raises(ReplayRefused, match="does not read as the message did"):
        Replayer(read_copy, RecordingIngest()).check(kept)


def test_highlighting_elsewhere_is_not_what_is_forgiven() -> None:
    """A copy whose OBX-5 has no highlighting is read again no other way: an NTE's or PID's
    ``\\H\\`` reads ``_`` now as then."""
    plain = BOLD_ANC.replace("\\H\\0.3\\N\\", "0.3") + "NTE|1||\\H\\CRITICAL\\N\\\r"
    assert highlighting_as_read_before(redact(plain, keyed_hash)) is None
    with pytest.raises(ReplayRefused, match="does not read as the message did"):
        Replayer(read_copy, RecordingIngest()).check(_kept_before_today("_0.3_", plain))


@pytest.mark.parametrize(
    ("obx5", "before"),
    [
        ("\\H\\0.3\\N\\", "_0.3_"),
        ("<\\H\\^5\\N\\", "<_^5_"),  # each component's
        ("\\E\\H\\E\\0.3", None),  # an escaped escape character and an H: text
        ("\\H\\0.3\\N", "_0.3\\N"),  # a sequence never closed is left as written
        ("\\X41\\\\H\\0.3", "\\X41\\_0.3"),
    ],
)
def test_only_obx5s_closed_highlighting_is_written_as_read_before(
    obx5: str, before: str | None
) -> None:
    header = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120091512+0100||ORU^R01|\\H\\C|P|2.5.1\r"
    copy = f"{header}OBX|1|NM|751-8^Neutrophils^LN||{obx5}|10*9/L\r"
    expected = (
        None if before is None else f"{header}OBX|1|NM|751-8^Neutrophils^LN||{before}|10*9/L\r"
    )
    assert highlighting_as_read_before(copy) == expected


def test_a_copy_whose_separator_is_the_underscore_is_not_written_again() -> None:
    copy = "MSH|_~\\&|LIS|HOSP\rOBX|1|NM|751-8||\\H\\0.3\\N\\\r"
    assert highlighting_as_read_before(copy) is None


@pytest.mark.parametrize(
    ("value_type", "obx5"),
    [
        ("NM", "\\H\\0.3\\N\\"),
        ("SN", "<\\H\\^5\\N\\"),
        ("SN", "^\\H\\0.3\\N\\"),
        ("NM", "\\X41\\\\H\\\\N\\0.3"),
        ("NM", "\\H\\12\\N\\~\\H\\5\\N\\"),  # a later repetition read as then, too
        ("ST", "\\H\\HIGH\\N\\"),
    ],
)
def test_the_copy_written_as_read_before_reads_as_the_previous_parser_did(
    monkeypatch: pytest.MonkeyPatch, value_type: str, obx5: str
) -> None:
    """Read now, the rewritten copy reads every value as the parse did when highlighting
    read ``_`` (python-hl7's own reading, put back for the comparison)."""
    text = BOLD_ANC.replace("|NM|", f"|{value_type}|").replace("\\H\\0.3\\N\\", obx5)
    before = highlighting_as_read_before(text)
    assert before is not None
    now_of_before, _ = parse_oru(before, identify=keyed_hash)
    monkeypatch.setattr(hl7_escapes, "_HIGHLIGHT_AS_NOTHING", {"H": "_", "N": "_"})
    then, _ = parse_oru(text, identify=keyed_hash)
    assert now_of_before.observations == then.observations
