"""``reported_at`` of lab.results.v1 is when the result was released in every channel: in
HL7 v2 that is OBR-22 (OBX-19 only when OBR-22 is empty).

FHIR's ``Observation.issued`` (read as ``reported_at``) is when the result was released
("made available to providers"); JSON's ``reported_at`` likewise. HL7 v2 writes that time
in OBR-22 (Results Rpt/Status Chng - Date/Time), in every version from 2.3 to 2.5.1 (the
v2-to-FHIR mapping takes Observation.issued from it). lab-ingestion reads OBX-19 instead:
a field v2.3 and v2.4 do not define at all (their OBX ends at OBX-17), and which v2.5 and
v2.5.1 define as "Date/Time of the Analysis" (when the analyser ran), not the release.
So an HL7 v2.3/2.4 result is published with no report time though its OBR-22 carries it,
and a v2.5.1 one with the analysis time where the event's other channels put the release.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru

COLLECTED = "20261120081500+0100"
ANALYSED = "20261120091000+0100"
RELEASED = "20261120113000+0100"
RELEASED_UTC = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)


def _message(version: str, obx19: str = "", obr22: str = RELEASED) -> str:
    # OBR-7 observation time, OBR-22 results report/status change time, OBR-25 status
    obr = ["OBR", "1", "PLC1", "ORD1", "LAB^Lab panel", "", "", COLLECTED]
    obr += [""] * (22 - len(obr)) + [obr22, "", "", "F"]
    obx = ["OBX", "1", "NM", "1988-5^CRP^LN", "", "12.5", "mg/L", "0-5", "H", "", "", "F",
           "", "", COLLECTED]  # fmt: skip
    if obx19:
        obx += ["", "", "", "", obx19]
    segments = [
        f"MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120120000+0100||ORU^R01|MSG-1|P|{version}",
        "PID|1||MRN1^^^HOSP^MR",
        "|".join(obr),
        "|".join(obx),
    ]
    return "\r".join(segments) + "\r"


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1"])
def test_the_report_time_is_obr22(version: str) -> None:
    message, _ = parse_oru(_message(version), identify=lambda s: "h" * 64)
    assert message.observations[0].reported_at == RELEASED_UTC


def test_the_analysis_time_of_obx19_is_not_the_report_time() -> None:
    message, _ = parse_oru(_message("2.5.1", obx19=ANALYSED), identify=lambda s: "h" * 64)
    assert message.observations[0].reported_at == RELEASED_UTC


def test_obx19_is_the_report_time_when_obr22_is_empty() -> None:
    """A v2.5 sender writing the time in OBX-19 alone still gives its results one."""
    message, _ = parse_oru(_message("2.5.1", obx19=ANALYSED, obr22=""), identify=lambda s: "h" * 64)
    assert message.observations[0].reported_at == datetime(2026, 11, 20, 8, 10, tzinfo=UTC)


def test_an_obr22_of_hl7s_explicit_null_is_empty() -> None:
    message, _ = parse_oru(
        _message("2.5.1", obx19=ANALYSED, obr22='""'), identify=lambda s: "h" * 64
    )
    assert message.observations[0].reported_at == datetime(2026, 11, 20, 8, 10, tzinfo=UTC)


@pytest.mark.parametrize("obr22", ["2026112", "20261320113000", "tomorrow"])
def test_an_unreadable_obr22_is_no_report_time_as_an_unreadable_obx19_is(obr22: str) -> None:
    """Not rejected (the report time decides nothing) and not replaced by OBX-19: the sender
    gave a release time, unreadable, and an analysis time is not it."""
    with_obr22, _ = parse_oru(
        _message("2.5.1", obx19=ANALYSED, obr22=obr22), identify=lambda s: "h" * 64
    )
    with_obx19, _ = parse_oru(_message("2.5.1", obx19=obr22, obr22=""), identify=lambda s: "h" * 64)
    assert with_obr22.observations[0].reported_at is None
    assert with_obx19.observations[0].reported_at is None


def test_an_obr22_without_an_offset_is_read_as_the_other_hl7_times() -> None:
    """In MSH-7's offset, and kept as written for the sender's configured zone."""
    message, _ = parse_oru(_message("2.4", obr22="20261120113000"), identify=lambda s: "h" * 64)
    observation = message.observations[0]
    assert observation.reported_at == RELEASED_UTC
    assert observation.reported_local == datetime(2026, 11, 20, 11, 30)


@pytest.mark.parametrize(
    ("obr22", "obx19"),
    [("20261120\\Q\\113000+0100", ANALYSED), ("", "20261120\\Q\\091000+0100")],
    ids=["OBR-22", "OBX-19"],
)
def test_a_report_time_with_an_escape_hl7_does_not_define_is_no_report_time(
    obr22: str, obx19: str
) -> None:
    """Not read through the dropped escape (another time), and not refused either: a report
    time refuses no result (the collection time and the order's key still do)."""
    message, _ = parse_oru(_message("2.5.1", obx19=obx19, obr22=obr22), identify=lambda s: "h" * 64)
    (observation,) = message.observations
    assert observation.reported_at is None and observation.reported_local is None
    assert observation.collected_at == datetime(2026, 11, 20, 7, 15, tzinfo=UTC)
