"""A kept HL7 final result whose result the lab's FHIR feed holds, saying the same, replayed
(review 214): the replay and its dry run say what the live ACK says of such a message, "already
held by another sender (the lab's other feed)", never "already stored: the lab resent it"
(the lab resent nothing: its other feed reported the sample)."""

from __future__ import annotations

import pytest

from tests.integration.test_lab_ingestion import Lab
from tests.integration.test_lab_one_sample_two_feeds import _fhir_crp, _hl7
from tests.integration.test_lab_replay import cli, poisoned, rejection_of

pytestmark = pytest.mark.integration

HELD = "1 result(s) already held by another sender (the lab's other feed), not stored again"


async def test_a_replayed_copy_the_other_feed_holds_is_told_as_the_ack_tells_it(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, outcome = await lab.post_fhir("/fhir/Observation", _fhir_crp(40))
    assert status == 201, outcome
    live = await _hl7(lab, "H-LIVE", "40")
    assert live[1] == "AA" and live[3].startswith("accepted; 1 result(s) already held by another")
    fix = poisoned(monkeypatch)
    assert (await _hl7(lab, "POISON-H1", "40"))[1] == "AE"  # kept, do not resend
    rejection = await rejection_of(lab, "POISON-H1")
    fix()

    assert await cli(lab, "replay", rejection, dry_run=True) == 0
    dry = capsys.readouterr().out
    assert dry == f"{rejection}: replayable: {HELD}; the replay would close it\n"
    assert await cli(lab, "replay", rejection) == 0
    assert capsys.readouterr().out == f"{rejection}: {HELD}\n"
    mark = await lab.pool.fetchrow(
        "SELECT replayed_at, replay_outcome FROM rejections WHERE rejection_id = $1", rejection
    )
    assert mark["replayed_at"] is not None and mark["replay_outcome"] == HELD
    assert await lab.pool.fetchval("SELECT count(*) FROM results WHERE value = 40") == 1
