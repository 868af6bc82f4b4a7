"""Over the real MLLP socket: a CBC whose platelet count could not be made (final, text
``CLUMPED``) beside a grade-4 neutrophil count is answered AA with the count stored and
published; a second CBC whose platelets were counted before under the same order, now
``CLUMPED``, is refused (the stored count is never withdrawn by a text). The count left
out is counted in ``lab_results_not_obtained_total``."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import msa, obx, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

CLUMPED = "ST|777-3^Platelets^LN||CLUMPED|||A|||F|||20261120081500+0100"


async def test_a_count_that_could_not_be_made_costs_nothing_beside_it(lab: Lab) -> None:
    client = await lab.mllp()
    ack = await client.exchange(oru("CBC-1", [obx("751-8", "0.3", "10*9/L"), CLUMPED]))
    assert msa(ack)[1:4] == ["AA", "CBC-1", "accepted; 1 result(s) stored"], ack
    rows = await lab.pool.fetch("SELECT analyte, value FROM results")
    assert [tuple(r) for r in rows] == [("neutrophils", 0.3)]
    (event,) = await lab.events("lab.results.v1", at_least=1)
    assert event.payload["analyte"] == "neutrophils" and event.payload["value"] == 0.3
    # the count left out is counted, under its channel (README: Metrics)
    assert await lab.metric("lab_results_not_obtained_total", channel="mllp") == 1

    counted = oru("CBC-2", [obx("751-8", "0.4", "10*9/L"), obx("777-3", "40", "10*9/L")],
                  order="ORD2")  # fmt: skip
    assert msa(await client.exchange(counted))[1] == "AA"
    clumped = oru("CBC-3", [obx("751-8", "0.4", "10*9/L"), CLUMPED], order="ORD2")
    assert msa(await client.exchange(clumped))[1] == "AE"
    await client.close()
    platelets = await lab.pool.fetch("SELECT value FROM results WHERE analyte = 'platelets'")
    assert [r["value"] for r in platelets] == [40.0]
    # a refused message's count is no count left out
    assert await lab.metric("lab_results_not_obtained_total", channel="mllp") == 1
