"""A birth date, phone or AHV number sent as a result's value is quoted in no answer, kept
rejection or lab.rejected.v1 event, over MLLP, FHIR and JSON (review 125: an ORU whose
OBX-5 was its PID-7, ``19580214`` mg/L, was answered ``MSA|AE|..|crp 19580214 mg/L is above
any human value (1000)``, kept and published so, while the kept copy redacted OBX-5)."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import aiohttp
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from tests.integration.lab_fixtures import (
    MRN,
    TS,
    ack_searched,
    crp_observation,
    msa,
    oru,
    payload_searched,
)
from tests.integration.test_lab_ingestion import Lab
from tests.unit.lab_ingestion.test_phi_shaped_values import phi_values, quotes

pytestmark = pytest.mark.integration

# (LOINC, unit): units where a PHI number is no human value, and platelets per microlitre,
# where a birth date 01021958 is one (1021.958 x10^9/L) and a flag then contradicts it
TESTS = [("1988-5", "mg/L"), ("751-8", "10*9/L"), ("777-3", "/uL"), ("2160-0", "umol/L")]
FLAGS = ["", "L", "H", ">"]
_serial = itertools.count()


def _hl7(control_id: str, loinc: str, value: str, unit: str, flag: str, birth: str) -> str:
    message = oru(control_id, [f"NM|{loinc}^Test^LN||{value}|{unit}||{flag}|||F|||{TS}"])
    return message.replace("|19580214|", f"|{birth}|", 1)  # the patient's own birth date


def _fhir(identifier: str, loinc: str, value: str, unit: str, flag: str) -> bytes:
    observation: dict[str, Any] = crp_observation(identifier, unit)
    observation["code"]["coding"][0]["code"] = loinc
    comparator, number = value[: len(value) - len(value.lstrip("<>="))], value.lstrip("<>= ")
    quantity = observation["valueQuantity"]
    quantity["value"] = "NUMBER"
    if comparator:
        quantity["comparator"] = comparator
    if flag:
        observation["interpretation"] = [{"coding": [{"code": flag}]}]
    return json.dumps(observation).replace('"NUMBER"', number).encode()


def _json(message_id: str, loinc: str, value: str, unit: str, flag: str) -> bytes:
    result = {"result_id": f"{message_id}-R", "loinc": loinc, "value": value, "unit": unit,
              "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    if flag:
        result["abnormal_flag"] = flag
    return json.dumps({
        "message_id": message_id, "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN}, "results": [result],
    }).encode()  # fmt: skip


async def _post(lab: Lab, path: str, body: bytes, content_type: str) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {lab.lab_token}", "Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}{path}", data=body, headers=headers) as answer,
    ):
        return answer.status, await answer.text()


# what the service writes of its own that digits drawn may happen to be found in (review 204's
# and 194's runs: `120926` in an event's received_at): times, digests and ids it drew
_OWN_DIGITS = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|sha256 [0-9a-f]{64}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


def _assert_not_quoted(said: str, digits: str) -> None:
    searched = _OWN_DIGITS.sub("<own>", said)
    assert digits not in searched and not quotes(searched, digits), said


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    phi=phi_values(),
    test=st.sampled_from(TESTS),
    flag=st.sampled_from(FLAGS),
)
async def test_no_answer_rejection_or_event_quotes_a_phi_shaped_value(
    lab: Lab, phi: tuple[str, str], test: tuple[str, str], flag: str
) -> None:
    (value, digits), (loinc, unit) = phi, test
    serial = next(_serial)
    birth = digits if len(digits) == 8 else "19580214"
    client = await lab.mllp()
    try:
        ack = await client.exchange(_hl7(f"PHI-{serial}", loinc, value, unit, flag, birth))
    finally:
        await client.close()
    answers = [msa(ack)[-1]]
    answers.append(
        (await _post(lab, "/fhir/Observation", _fhir(f"PHI-{serial}", loinc, value, unit, flag),
                     "application/fhir+json"))[1]
    )  # fmt: skip
    answers.append(
        (await _post(lab, "/v1/lab-results", _json(f"PHI-{serial}", loinc, value, unit, flag),
                     "application/json"))[1]
    )  # fmt: skip
    reasons = [row["reason"] for row in await lab.pool.fetch("SELECT reason FROM rejections")]
    events = await lab.events("lab.rejected.v1", len(reasons))
    for said in (*answers, *reasons, *(payload_searched(event.payload) for event in events)):
        _assert_not_quoted(said, digits)


async def test_the_finding_a_birth_date_as_crp_is_refused_without_it(lab: Lab) -> None:
    client = await lab.mllp()
    try:
        ack = await client.exchange(_hl7("PHI-F", "1988-5", "19580214", "mg/L", "", "19580214"))
    finally:
        await client.close()
    assert msa(ack)[1] == "AE"
    expected = (
        "crp value is above any human value (1000 mg/L): check the unit and the decimal point"
    )
    text = msa(ack)[3]  # MSA-3 holds 80 characters: a longer text ends in "..."
    assert expected.startswith(text.removesuffix("...")) and "(1000 mg/L)" in text, text
    assert await lab.pool.fetchval("SELECT reason FROM rejections") == expected
    (event,) = await lab.events("lab.rejected.v1", 1)
    assert event.payload["reason"] == expected


async def test_a_six_digit_birth_date_as_a_platelet_count_is_refused_without_it(lab: Lab) -> None:
    """Review 128: PID-7 19580214, OBX-5 140258 /uL (the birth date as DDMMYY) flagged H was
    refused "the abnormal flag 'H' contradicts the value 140.258 10*9/L", the date with a
    dot, in MSA-3, ERR-8, the kept rejection and its event."""
    client = await lab.mllp()
    try:
        ack = await client.exchange(_hl7("PHI-6", "777-3", "140258", "/uL", "H", "19580214"))
    finally:
        await client.close()
    assert msa(ack)[1] == "AE", ack
    reason = await lab.pool.fetchval("SELECT reason FROM rejections")
    assert "contradicts the value, below every laboratory's upper limit" in reason, reason
    (event,) = await lab.events("lab.rejected.v1", 1)
    for said in (ack_searched(ack), reason, payload_searched(event.payload)):
        assert "140.258" not in said and "140258" not in said, said
