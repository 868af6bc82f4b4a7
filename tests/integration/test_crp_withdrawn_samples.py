"""crp-monitor leaves out CRP results collected after its subject's withdrawal (review 63).

crp-monitor consumes `trial.subjects.v1` (SPEC section 2), yet its series ignores the
withdrawal. lab-ingestion only drops post-withdrawal samples once *its* copy of the directory
has the withdrawal; a result it published before reading the withdrawal (the directory lags:
a 0.25 s batch window, a broker outage, a rebalance) reaches crp-monitor, and nothing ever
retracts it. PROTOCOL section 6: results of patients who are not (or no longer) enrolled are
not the trial's; README: "one collected after the withdrawal is discarded like anyone's who
is not enrolled". The series crp-monitor serves (and will assess from) then shows a value
that is no trial result.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.contracts.envelope import make_envelope, utc_now
from shared.contracts.events.trial import SubjectWithdrawn
from shared.contracts.topics import LAB_RESULTS, TRIAL_SUBJECTS
from tests.factories import crp_result, subject_enrolled
from tests.integration.messaging_fixtures import record, wait_until
from tests.integration.test_crp_monitor_cancellations import _series, _token
from tests.integration.test_service_runtime import Running, crp_monitor  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


async def test_a_crp_collected_after_the_withdrawal_stands_in_no_series(
    crp_monitor: Running,  # noqa: F811 - the fixture, imported
) -> None:
    now = utc_now()
    withdrawal = make_envelope(
        SubjectWithdrawn(withdrawn_at=now - timedelta(days=1), reason="consent withdrawn"),
        producer="dose-decision", subject_id="S-W",
    )  # fmt: skip
    await record(
        crp_monitor.producer_pool, TRIAL_SUBJECTS, [subject_enrolled("S-W"), withdrawal],
        commit=True,
    )  # fmt: skip
    before = crp_result("S-W", 80.0)
    before = before.model_copy(
        update={
            "payload": {**before.payload, "collected_at": (now - timedelta(days=2)).isoformat()}
        }
    )
    after = crp_result("S-W", 5.0)  # collected 2 hours ago: after the withdrawal
    await record(crp_monitor.producer_pool, LAB_RESULTS, [before, after], commit=True)
    assert crp_monitor.runtime.pool is not None
    pool = crp_monitor.runtime.pool

    async def both_read() -> bool:
        return int(await pool.fetchval("SELECT count(*) FROM inbox")) >= 4

    await wait_until(both_read)
    withdrawn = await pool.fetchval(
        "SELECT withdrawn_at FROM enrolled_subjects WHERE subject_id = 'S-W'"
    )
    assert withdrawn is not None  # crp-monitor knows of the withdrawal
    series = await _series(crp_monitor, "S-W", await _token(crp_monitor))
    assert series == [80.0], f"a CRP collected after the withdrawal stands: {series}"
