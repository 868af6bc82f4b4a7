"""Review 132: a note of escape characters cost ten times plain text's through the real
``POST /v1/hl7`` (1 MB of ``\\`` took 1.4-1.7 s, four such clients delayed every other
laboratory's ACKs), from its redaction. How long it takes now is measured by
``bench/redaction_cost.py`` (and the Python work it does by
``tests/unit/lab_ingestion/test_escape_cost.py``); here, that such a note is answered and
its message kept, redacted, as any other refused one is."""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.lab_fixtures import MRN, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

SIZE = 900_000  # under the body limit
NOTES = {"plain": "ab cd ", "backslashes": "\\", "empty-hex": "\\X", "site-escapes": "\\ZZ\\"}


async def test_a_note_of_escape_characters_is_answered_and_kept_redacted(lab: Lab) -> None:
    auth = {"Authorization": f"Bearer {lab.lab_token}"}
    async with aiohttp.ClientSession() as http:
        for name, unit in NOTES.items():
            note = unit * (SIZE // len(unit))
            message = oru(f"EC-{name}", [obx("1988-5", "40", "furlongs")])
            async with http.post(
                f"{lab.http}/v1/hl7", data=f"{message}NTE|1||{note}\r", headers=auth
            ) as answer:
                ack = await answer.text()
            assert msa(ack)[1:3] == ["AE", f"EC-{name}"], ack[:300]  # refused: the unit
    kept = await lab.pool.fetch("SELECT control_id, reason_code, payload FROM rejections")
    assert sorted(row["control_id"] for row in kept) == sorted(f"EC-{name}" for name in NOTES)
    for row in kept:
        assert len(row["payload"]) > SIZE // 2, "the note is kept with its message"
        assert MRN not in row["payload"] and "DOE" not in row["payload"]
