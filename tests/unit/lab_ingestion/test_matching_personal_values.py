"""The patient's numbers run into an accepted message's ids are masked there, however they
are written: a hospital number written in groups (``987.654.321``) also as its digits, with
the number's replacement, in every channel.
"""

from __future__ import annotations

import copy
from typing import Any

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.domain.model import LabMessage
from tests.unit.lab_ingestion.hl7_samples import join, msh, seg
from tests.unit.lab_ingestion.route_fakes import (
    JSON_BODY,
    LAB,
    FakeSubmit,
    hash_identifier,
    lab_client,
)

MRN = "987654321"


def mark(value: str) -> str:
    return f"#{hash_identifier(value)[:12]}"


def stored_ids(parsed: LabMessage) -> list[str]:
    """What ``messages.control_id`` and ``results.result_key`` would hold."""
    return [parsed.control_id, *(o.result_key for o in parsed.observations)]


# --- a hospital number written in groups: its digits in the ids ----------------------------

GROUPED = "987.654.321"


def test_an_hl7_hospital_number_written_in_groups_is_masked_as_its_digits() -> None:
    text = join([
        msh(control_id=f"{MRN}-1"),
        seg("PID", {1: "1", 3: f"{GROUPED}^^^NORTHLAB^MR"}),
        seg("OBR", {1: "1", 2: "P1", 3: f"F{MRN}", 7: "20261102070000+0000"}),
        seg("OBX", {1: "1", 2: "NM", 3: "1988-5^CRP^LN", 5: "12.5", 6: "mg/L", 11: "F"}),
    ])  # fmt: skip
    parsed, _ = parse_oru(text, identify=hash_identifier)
    assert stored_ids(parsed) == [f"{mark(GROUPED)}-1", f"F{mark(GROUPED)}|1988-5|"]


async def test_a_json_hospital_number_written_in_groups_is_masked_as_its_digits() -> None:
    body: dict[str, Any] = copy.deepcopy(JSON_BODY)
    body["message_id"] = f"{MRN}-3"
    body["patient"] = {"identifier": GROUPED}
    body["results"][0]["result_id"] = f"{MRN}-R1"
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        answer = await client.post("/v1/lab-results", json=body, headers=LAB)
        assert answer.status == 202, await answer.text()
    (ingest,) = submit.ingests
    assert stored_ids(ingest.message) == [f"{mark(GROUPED)}-3", f"{mark(GROUPED)}-R1"]
