"""An OBX-3 code written with sub-components, over the real MLLP service (review 118).

``4548-4&1988-5^CRP^LN`` was read as HbA1c (its first part), so not as a trial result, and
left out: beside neutrophils the message was answered ``AA 1 result(s) stored``, the CRP of
85 lost with nothing kept. Any OBX whose OBX-3 identifier or coding system holds an
unescaped ``&`` now makes the message malformed: AR, kept as a rejection, nothing stored.

The lab fixture enrols S-100 under MRN4711; its sender LIS^HOSP has no site."""

from __future__ import annotations

import pytest

from tests.integration.lab_fixtures import msa, oru
from tests.integration.test_lab_ingestion import Lab

pytestmark = pytest.mark.integration

TS = "20261120081500+0100"
NEUTROPHILS = f"NM|751-8^Neutrophils^LN||2.1|10*9/L|2-7||||F|||{TS}"


async def counts(lab: Lab) -> tuple[int, int]:
    results = await lab.pool.fetchval("SELECT count(*) FROM results")
    rejections = await lab.pool.fetchval("SELECT count(*) FROM rejections")
    return results, rejections


@pytest.mark.parametrize(
    "code",
    [
        "4548-4&1988-5^CRP^LN",  # a CRP behind HbA1c's code
        "1988-5&4548-4^CRP^LN",  # the trial code first
        "4548-4^HbA1c^LN^CRP&1^CRP^L",  # an alternate identifier
    ],
)
async def test_a_crp_behind_another_code_is_refused_never_dropped(lab: Lab, code: str) -> None:
    client = await lab.mllp()
    crp = f"NM|{code}||85|mg/L|0-5|H|||F|||{TS}"
    alone = msa(await client.exchange(oru("NEST-1", [crp], order="ORD-N1")))
    beside = msa(await client.exchange(oru("NEST-2", [NEUTROPHILS, crp], order="ORD-N2")))
    await client.close()
    for answer in (alone, beside):
        assert answer[1] == "AR", answer
        assert "OBX-3 holds sub-components" in answer[3], answer
    assert await counts(lab) == (0, 2)  # nothing stored, both kept
    codes = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert {r["reason_code"] for r in codes} == {"malformed-message"}


async def test_an_ampersand_in_a_codes_text_is_read(lab: Lab) -> None:
    """A display text may hold one (``CRP & hsCRP``): no text decides the test."""
    client = await lab.mllp()
    crp = f"NM|1988-5^CRP & hsCRP^LN||85|mg/L|0-5|H|||F|||{TS}"
    answer = msa(await client.exchange(oru("TEXT-1", [NEUTROPHILS, crp], order="ORD-T1")))
    await client.close()
    assert answer[1] == "AA", answer
    assert await counts(lab) == (2, 0)
