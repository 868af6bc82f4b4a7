"""No personal value of the patient in any table of lab-ingestion, whatever field a lab puts
it in: accepted and rejected messages of every channel, the patient's name, birth date,
hospital number, address and phone run into ids, order numbers, units, flags, values,
comments and senders; then every row of every table of the service's schema is read."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest

from tests.integration.lab_fixtures import BIRTH, MRN, TS, crp_observation, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

# what oru() puts in PID, PV1-less: name DOE^JOHN, mother's maiden name SMITH, birth date,
# street, phone; NK1 DOE^JANE
PERSONAL = ("DOE", "JOHN", "SMITH", "JANE", BIRTH, "1958-02-14", MRN, "Main St", "311234567")


def hl7_messages() -> list[tuple[str, str]]:
    """(message, the answer expected): each puts the patient's values in other fields."""
    crp = obx("1988-5", "12", "mg/L")
    with_comment = oru("SW-3", [crp]) + f"NTE|1||result of JOHN DOE {BIRTH}\r"
    flagged = f"NM|1988-5^Test^LN||12|mg/L||DOE|||F|||{TS}"  # OBX-8: the surname
    return [
        (oru("SW-1", [crp]), "AA"),
        (oru(f"DOE{BIRTH}", [obx("1988-5", "13", "mg/L")], order=f"{MRN}-JOHN-{BIRTH}"), "AA"),
        (with_comment, "AA"),
        (oru("SW-4", [obx("1988-5", "14", "mg/L^DOE JOHN^L")], order="ORD4"), "AA"),
        (oru(f"JOHN-{BIRTH}", [obx("1988-5", "12", "furlongs")], order="ORD5"), "AE"),
        (oru("SW-6", [obx("1988-5", "JOHN DOE", "mg/L")], order="ORD6"), "AE"),
        (oru("SW-7", [obx("1988-5", "12", "mg/L", ref=f"DOE {BIRTH}")], order="ORD7"), "AA"),
        (oru("SW-8", [flagged], order="ORD8"), "AA"),
        (oru("SW-9", [crp], pid3=f"{MRN}\\Q\\1^^^HOSP^MR"), "AR"),
        (oru(f"DOE-{BIRTH}", [crp], application="JOHN DOE"), "AR"),
        (oru("SW-11", [obx("1988-5", "12", "mg/L", observed=f"{BIRTH}0800")]), "AE"),
        # run into ids with no separator (review 87): name and date, date alone, name alone
        (oru(f"DOE{BIRTH}9", [obx("1988-5", "x", "mg/L")], order=f"JOHN{BIRTH}7"), "AE"),
        (oru(f"X{BIRTH}", [obx("1988-5", "x", "mg/L")], order="ORD12"), "AE"),
        (oru("doe1", [obx("1988-5", "x", "mg/L")], order="ORD13"), "AE"),
    ]


async def post(lab: Lab, path: str, body: bytes, content_type: str) -> int:
    headers = {"Authorization": f"Bearer {lab.lab_token}", "Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}{path}", data=body, headers=headers) as answer,
    ):
        return answer.status


def json_bodies() -> list[bytes]:
    result = {"result_id": f"{MRN}-R1", "loinc": "1988-5", "value": "12", "unit": "mg/L",
              "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}  # fmt: skip
    body = {"message_id": f"DOE-{BIRTH}", "source": {"application": "LIS", "facility": "HOSP"},
            "patient": {"identifier": MRN}, "results": [result]}  # fmt: skip
    named = body | {"message_id": "SW-J2",
                    "patient": {"identifier": MRN, "name": "JOHN DOE", "birth": BIRTH}}  # fmt: skip
    return [json.dumps(body).encode(), json.dumps(named).encode()]


def fhir_resources() -> list[dict[str, object]]:
    plain = crp_observation(f"DOE-{BIRTH}")
    contained = crp_observation("SW-F2")
    contained["contained"] = [{
        "resourceType": "Patient", "id": "p1", "name": [{"family": "DOE", "given": ["JOHN"]}],
        "birthDate": "1958-02-14", "identifier": [{"system": "urn:hosp", "value": MRN}],
        "address": [{"line": ["1 Main St"], "city": "Bern"}],
        "telecom": [{"system": "phone", "value": "+41311234567"}],
    }]  # fmt: skip
    contained["subject"] = {"reference": "#p1"}
    noted = crp_observation("SW-F3")
    noted["note"] = [{"text": f"JOHN DOE, born {BIRTH}"}]
    unknown_unit = crp_observation("SW-F4", unit="JOHN")  # the name (in the message) as unit
    unknown_unit["contained"] = contained["contained"]
    unknown_unit["subject"] = {"reference": "#p1"}
    return [plain, contained, noted, unknown_unit]


async def every_row(lab: Lab) -> dict[str, str]:
    """Each table of lab-ingestion's schema, all its rows as text."""
    tables = await lab.pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'lab_ingestion'"
    )
    found = {}
    for (table,) in tables:
        select = f'SELECT t::text AS row FROM lab_ingestion."{table}" t'
        rows = await lab.pool.fetch(select)
        found[table] = "\n".join(r["row"] for r in rows)
    return found


async def test_no_personal_value_is_in_any_table_of_the_service(lab: Lab) -> None:
    client = await lab.mllp()
    answers = []
    for message, _ in hl7_messages():
        answers.append(msa(await client.exchange(message))[1])
    await client.close()
    assert answers == [expected for _, expected in hl7_messages()]
    for body in json_bodies():
        assert await post(lab, "/v1/lab-results", body, "application/json") in (202, 400, 422)
    for resource in fhir_resources():
        status = await post(lab, "/fhir/Observation", json.dumps(resource).encode(),
                            "application/fhir+json")  # fmt: skip
        assert status in (200, 201, 400, 422)

    tables = await every_row(lab)
    assert tables["messages"] and tables["results"] and tables["rejections"]  # all kinds kept
    leaks = [
        (table, value, text[max(0, found.start() - 60) :][:140])
        for table, text in tables.items()
        for value in PERSONAL
        if (found := _whole_word(value).search(text))
    ]
    assert not leaks, "\n".join(map(str, leaks))


def _whole_word(value: str) -> re.Pattern[str]:
    """``value`` in any case, not inside a word ("DOE" is not in "does"; a birth date is
    found inside a timestamp), but run into digits (``DOE1``) or, for a birth date, letters
    (``X19580214``)."""
    if value == BIRTH:
        return re.compile(re.escape(value))
    return re.compile(rf"(?<![A-Za-z]){re.escape(value)}(?![A-Za-z])", re.IGNORECASE)
