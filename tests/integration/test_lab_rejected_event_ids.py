"""`lab.rejected.v1` names no sender's message id (review 63: a JSON id was published as written).

README: laboratory systems build message ids "from whatever they hold (`MRN004711-3`,
`DOE19580214`, a visit number)", so an accepted message's id is stored only as a keyed hash
and is "in no event". A rejected JSON message's `message_id` is published on
`lab.rejected.v1` (read by every service and anyone with topic access) as written, only a
hospital number masked: a name and birth date run into it go out as they are (the JSON
format carries no name or birth date to scrub them by). SPEC/PROTOCOL: no PHI in any event;
names and birth dates are never published.
"""

from __future__ import annotations

import aiohttp
import pytest

from shared.contracts.topics import LAB_REJECTED
from tests.integration.lab_fixtures import MRN
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

PERSONAL_ID = "DOE19580214-1"  # surname and birth date, as the README's own example


async def test_a_rejected_json_message_id_is_not_published_as_written(lab: Lab) -> None:
    body = {
        "message_id": PERSONAL_ID, "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN},
        "results": [{"result_id": "R1", "loinc": "1988-5", "value": "12",
                     "unit": "furlongs", "status": "final",
                     "collected_at": "2026-11-20T08:00:00+01:00"}],
    }  # fmt: skip
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{lab.http}/v1/lab-results", json=body, headers=auth) as answer,
    ):
        assert answer.status == 422, await answer.text()
    events = await lab.events(LAB_REJECTED, 1)
    published = [e.payload["message_control_id"] for e in events]
    assert published, "no lab.rejected.v1 event"
    leaked = [p for p in published if p and ("19580214" in p or "DOE" in p.upper())]
    assert not leaked, f"lab.rejected.v1 carries a name and birth date: {leaked}"
