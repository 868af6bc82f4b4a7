"""A message the service fails on is answered "kept, do not resend" only when its kept copy
will replay (review 128): the answer reads the copy as ``cachexia replay`` reads it
(``unprocessable.will_replay``, the replay's own ``checked_copy``) and from the same sender.
Before, only a scrubbed MSH-10 made it "resend": a sender or an order number cut by the
redaction was answered "do not resend", then the replay refused it or rejected it again."""

from __future__ import annotations

import datetime as dt
import hashlib

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.hl7_redaction import redact
from services.lab_ingestion.bootstrap import kept_copy_reader
from services.lab_ingestion.domain.local_codes import NO_LOCAL_CODES
from services.lab_ingestion.service_layer.commands import IngestLabMessage
from services.lab_ingestion.service_layer.unprocessable import (
    REASON,
    REASON_NOT_REPLAYABLE,
    as_rejection,
)
from tests.unit.lab_ingestion.hl7_samples import FAST

AT = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)


def _hash(number: str) -> str:
    return hashlib.sha256(number.encode()).hexdigest()


def _answer(application: str, facility: str, order: str, name: str = "DOE^JOHN") -> str:
    text = (
        f"MSH|^~\\&|{application}|{facility}|LENA|TRIAL|20261120090000||ORU^R01|M1|P|2.5.1\r"
        f"PID|1||MRN4711^^^HOSP^MR||{name}||19580214|M\r"
        f"OBR|1|PLC1|{order}|LAB^Lab panel|||20261120080000\r"
        "OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||F|||20261120080000\r"
    )
    message, _ = parse_oru(text, identify=_hash)
    copy = redact(text, _hash)
    command = IngestLabMessage(message, lambda: copy, AT)
    read_copy = kept_copy_reader("P", NO_LOCAL_CODES)
    return as_rejection(command, keep_payload=True, identify=_hash, read_copy=read_copy).reason


@FAST
@given(
    hospital=st.sampled_from(["STJOHNS", "KANTONSSPITAL", "MOLIS", "INSELSPITAL", "SWISSLAB"]),
    name=st.sampled_from(["DOE^JOHN", "MUSTER^ANTON", "MEIER^LIS", "HUBER^ELS", "WISS^ANNA"]),
    field=st.sampled_from([2, 3]),
)
def test_a_hospital_whose_name_holds_its_patients_name_is_told_do_not_resend(
    hospital: str, name: str, field: int
) -> None:
    application, facility = (hospital, "HOSP") if field == 2 else ("APP", hospital)
    assert _answer(application, facility, "ORD1", name) == REASON


@FAST
@given(
    stamp=st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)),
)
def test_a_timestamp_order_number_is_told_do_not_resend(stamp: dt.datetime) -> None:
    """Whatever six digits its time of day holds (``20261120140258``: 14.02.58)."""
    assert _answer("LIS", "HOSP", stamp.strftime("%Y%m%d%H%M%S")) == REASON


@given(
    sender=st.sampled_from([("LIS", "JOHN"), ("LIS19580214", "HOSP"), ("LISMRN4711", "HOSP"),
                            ("LIS", "ST-JOHN"), ("LIS140258", "HOSP")]),
)  # fmt: skip
def test_a_sender_the_redaction_cut_is_told_resend(sender: tuple[str, str]) -> None:
    assert _answer(*sender, "ORD1") == REASON_NOT_REPLAYABLE


@given(order=st.sampled_from(["ORD19580214", "JOHN-7", "ORD-140258", "X195802140"]))
def test_an_order_number_the_redaction_cut_is_told_resend(order: str) -> None:
    assert _answer("LIS", "HOSP", order) == REASON_NOT_REPLAYABLE


def test_a_patients_number_in_the_order_number_is_masked_as_read_and_replays() -> None:
    """The accepted path reads it masked too: the copy reads as the message did."""
    assert _answer("LIS", "HOSP", "MRN4711-1") == REASON
