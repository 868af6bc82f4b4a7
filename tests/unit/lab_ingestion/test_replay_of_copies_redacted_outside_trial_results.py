"""A kept copy redacted only outside what a trial result is read from replays: a document
or base64 text in a result that is no trial analyte (a PDF report beside the CRP, an RP
pointer, a specimen id sent as an ST value), a long local code in the trial result's OBX-3.

The redaction replaces OBX-5 of ED/RP and base64 text (``base64_text``) but never in the
fields a trial result is read from (``hl7_kept_lines.read_fields``); the content digest kept
with the rejection covers trial results only (``message_identity``), so a copy changed in
another result still reads as the message did, and a lab's resend of the original after the
replay is the duplicate it is."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru, redact
from services.lab_ingestion.domain.message_identity import (
    content_digest,
    digest_of_every_result,
    says_the_same,
)
from services.lab_ingestion.domain.records import KeptRejection
from services.lab_ingestion.service_layer.replay import Replayer, ReplayRefused
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.test_replay import RecordingIngest, keyed_hash, read_copy

MSH = "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|C1|P|2.5.1"
PID = "PID|1||MRN9^^^HOSP^MR||HUBERMANN^ROSWITHA||19510317|F"
OBR = "OBR|1|PLC1|F9|LAB^Lab panel|||20261102070000+0000"
CRP = "OBX|1|NM|1988-5^CRP^LN||42|mg/L|0-5|H|||F"
PDF = base64.b64encode(b"%PDF-1.4 Report of HUBERMANN ROSWITHA, born 17.03.1951").decode()


REPORT = f"OBX|2|ED|11502-2^Laboratory report^LN||LIS^application^pdf^Base64^{PDF}||||||F"


def _kept(lines: list[str], *, every_result: bool = False) -> KeptRejection:
    text = "\r".join(lines)
    message, _ = parse_oru(text, identify=keyed_hash)
    patient_hmac = keyed_hash("MRN9")
    digest = (digest_of_every_result if every_result else content_digest)(message, patient_hmac)
    return KeptRejection(
        uuid.uuid4(), Channel.MLLP.value, "LIS^HOSP", message.control_id,
        "unknown-source", "sender not allowed", redact(text, keyed_hash),
        datetime(2026, 11, 2, 9, 30, tzinfo=UTC), patient_hmac, digest, None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    "extra",
    [
        REPORT,
        "OBX|2|RP|11502-2^Laboratory report^LN||https://lis.example/r/4711^LIS^AP^PDF||||||F",
        "OBX|2|ST|SPECID^Specimen id^L||SpecimenAbCdEf0123456789gH||||||F",
    ],
    ids=["ed-report", "rp-pointer", "st-specimen-id"],
)
def test_a_copy_redacted_only_in_a_non_trial_result_still_replays(extra: str) -> None:
    rejection = _kept([MSH, PID, OBR, CRP, extra])
    assert PDF not in rejection.payload  # the document stays out of the copy
    message = Replayer(read_copy, RecordingIngest()).check(rejection)  # refused now
    crp = message.observations[0]
    assert (crp.value, crp.abnormal_flag) == ("42", "H")


def test_a_trial_result_with_a_long_local_code_still_replays() -> None:
    """OBX-3 codes are in the digest (and the result's identity): a long mixed-case local
    code (alternate identifier) is a code, not a document."""
    crp = "OBX|1|NM|1988-5^CRP^LN^CReactiveProteinSerumPlasma^CRP^L||42|mg/L|0-5|H|||F"
    rejection = _kept([MSH, PID, OBR, crp])
    message = Replayer(read_copy, RecordingIngest()).check(rejection)  # refused now
    assert "CReactiveProteinSerumPlasma" in [c.code for c in message.observations[0].codes]


def test_a_resend_of_the_original_after_the_replay_is_a_duplicate() -> None:
    """The replay stores the digest of the copy as read (``content_digest``): the lab's
    resend of the message with its report says the same, and is a duplicate, not a reused
    id."""
    rejection = _kept([MSH, PID, OBR, CRP, REPORT])
    replayed = Replayer(read_copy, RecordingIngest()).check(rejection)
    original, _ = parse_oru("\r".join([MSH, PID, OBR, CRP, REPORT]), identify=keyed_hash)
    hmac = keyed_hash("MRN9")
    stored = content_digest(replayed, hmac)
    assert says_the_same(stored, content_digest(original, hmac), original, hmac)
    other, _ = parse_oru(
        "\r".join([MSH, PID, OBR, CRP.replace("|42|", "|43|")]), identify=keyed_hash
    )
    assert not says_the_same(stored, content_digest(other, hmac), other, hmac)


def test_a_message_stored_with_the_digest_of_every_result_is_still_known_when_resent() -> None:
    message, _ = parse_oru("\r".join([MSH, PID, OBR, CRP, REPORT]), identify=keyed_hash)
    hmac = keyed_hash("MRN9")
    stored = digest_of_every_result(message, hmac)
    assert stored != content_digest(message, hmac)
    assert says_the_same(stored, content_digest(message, hmac), message, hmac)


def test_a_rejection_kept_with_the_digest_of_every_result_replays_when_its_copy_is_unchanged() -> (
    None
):
    rejection = _kept([MSH, PID, OBR, CRP], every_result=True)
    assert Replayer(read_copy, RecordingIngest()).check(rejection).observations[0].value == "42"


def test_a_rejection_kept_with_the_digest_of_every_result_and_a_redacted_report_is_refused() -> (
    None
):
    """Kept before the digest covered trial results only, it cannot tell what changed."""
    rejection = _kept([MSH, PID, OBR, CRP, REPORT], every_result=True)
    with pytest.raises(ReplayRefused, match="redaction changed what it says"):
        Replayer(read_copy, RecordingIngest()).check(rejection)


def test_base64_text_in_a_trial_result_is_masked_but_in_its_codes() -> None:
    """Review 105: base64 in a trial result's OBX-5 (``HUBERMANN ROSWITHA 19510317``, one
    decode away) was kept, since the digest covers the value; such a value is no
    measurement (the result is refused, and would be again on replay), so it is masked as
    in any other result, and so is base64 in OBX-3's texts. The codes and systems, what a
    replay reads back, are kept."""
    value = "SFVCRVJNQU5OIFJPU1dJVEhBIDE5NTEwMzE3"
    crp = f"OBX|1|ST|1988-5^{value}^LN||{value}|mg/L|||||F"
    other = f"OBX|2|ST|SPECID^Specimen id^L||{value}||||||F"
    kept = redact("\r".join([MSH, PID, OBR, crp, other]), keyed_hash).split("\r")
    assert kept[3] == "OBX|1|ST|1988-5^[redacted]^LN||[redacted]|mg/L|||||F"
    assert kept[4] == "OBX|2|ST|SPECID^Specimen id^L||[redacted]||||||F"
