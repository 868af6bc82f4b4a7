"""Censored values (a limit the laboratory reported instead of a measurement) through the
real interfaces (MLLP socket, HTTP) to the database and the broker: accepted, stored and
published as the limit with its comparator, never as a plain number; a limit that says both
sides is refused and kept; a measured value under the key of a limit is no restatement."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.sources import add_source
from services.lab_ingestion.domain.message_identity import content_digest
from shared.contracts.envelope import Envelope
from shared.contracts.identity import hospital_id_hmac
from shared.contracts.topics import LAB_RESULTS
from shared.secrets import subject_hmac_key
from tests.integration.lab_fixtures import MRN, TS, crp_observation, msa, oru
from tests.integration.test_lab_fhir_versions import bundle
from tests.integration.test_lab_fhir_versions import post as fhir_post
from tests.integration.test_lab_ingestion import SUBJECT, Lab
from tests.integration.test_lab_laboratory_comments import post
from tests.integration.test_lab_replay import cli, rejection_of

pytestmark = pytest.mark.integration


async def events(lab: Lab, at_least: int) -> list[dict[str, Any]]:
    raw = await lab.read(LAB_RESULTS, at_least)
    return [Envelope.from_bytes(value).payload for value in raw]


async def test_limits_over_mllp_are_published_with_their_comparator(lab: Lab) -> None:
    """An SN limit, a text limit in another unit, and a number flagged off the scale."""
    fields = [
        f"SN|1988-5^CRP^LN||<^5|mg/L|0-5|N|||F|||{TS}",
        f"ST|1742-6^ALT^LN||>16.7|ukat/L|0.1-0.6|HH|||F|||{TS}",  # > 1002 U/L
        f"NM|751-8^Neutrophils^LN||0.1|10*9/L|1.8-7.7|<~LL|||F|||{TS}",
    ]
    client = await lab.mllp()
    ack = await client.exchange(oru("CENS-1", fields))
    await client.close()
    assert msa(ack)[1:3] == ["AA", "CENS-1"], ack

    published = {p["analyte"]: p for p in await events(lab, 3)}
    assert {a: (p["value"], p["comparator"]) for a, p in published.items()} == {
        "crp": (5.0, "<"), "alt": (pytest.approx(1002.0), ">"), "neutrophils": (0.1, "<"),
    }  # fmt: skip
    assert published["alt"]["original_value"] == ">16.7"
    assert published["neutrophils"]["abnormal_flag"] == "LL"  # the most severe, as ever
    stored = await lab.pool.fetch("SELECT analyte, value, comparator, subject_id FROM results")
    assert {(r["analyte"], r["comparator"], r["subject_id"]) for r in stored} == {
        ("crp", "<", SUBJECT), ("alt", ">", SUBJECT), ("neutrophils", "<", SUBJECT),
    }  # fmt: skip


async def test_a_limit_on_both_sides_is_refused_with_its_reason_and_kept(lab: Lab) -> None:
    client = await lab.mllp()
    ack = await client.exchange(oru("CENS-2", [f"SN|1988-5^CRP^LN||>^5|mg/L|0-5|<|||F|||{TS}"]))
    await client.close()
    assert msa(ack)[1] == "AE", ack
    assert msa(ack)[3].startswith("crp value '>5' contradicts its flag '<'"), ack
    (kept,) = await lab.pool.fetch("SELECT reason_code, payload FROM rejections")
    assert kept["reason_code"] == "censored-value"
    assert ">^5" in kept["payload"] and MRN not in kept["payload"]
    assert await lab.pool.fetchval("SELECT count(*) FROM results") == 0


async def test_a_measured_value_under_a_limits_key_is_no_restatement(lab: Lab) -> None:
    """F <5 then F 5 under the same order: another result (a change only a correction
    makes), refused; the limit resent under a new id says it again: a duplicate."""
    limit = [f"SN|1988-5^CRP^LN||<^5|mg/L|0-5||||F|||{TS}"]
    client = await lab.mllp()
    assert msa(await client.exchange(oru("CENS-3", limit)))[1] == "AA"
    measured = [f"NM|1988-5^CRP^LN||5|mg/L|0-5||||F|||{TS}"]
    assert msa(await client.exchange(oru("CENS-4", measured)))[1] == "AE"
    assert msa(await client.exchange(oru("CENS-5", limit)))[1] == "AA"
    corrected = [f"NM|1988-5^CRP^LN||4.2|mg/L|0-5||||C|||{TS}"]
    assert msa(await client.exchange(oru("CENS-6", corrected)))[1] == "AA"
    await client.close()
    codes = await lab.pool.fetch("SELECT reason_code FROM rejections")
    assert [r["reason_code"] for r in codes] == ["result-of-another-sample"]
    rows = await lab.pool.fetch(
        "SELECT status, value, comparator FROM results ORDER BY recorded_at"
    )
    assert [tuple(r) for r in rows] == [("F", 5.0, "<"), ("C", 4.2, None)]
    published = await events(lab, 2)
    assert [p.get("comparator") for p in published] == ["<", None]


async def test_a_fhir_quantity_comparator_is_published_in_the_canonical_unit(lab: Lab) -> None:
    resource = crp_observation("OBS-CENS", unit="mg/dL")
    resource["valueQuantity"] = {**resource["valueQuantity"], "value": 0.5, "comparator": "<"}
    assert await post(lab, "/fhir/Observation", resource) == 201
    (event,) = await events(lab, 1)
    assert (event["value"], event["unit"], event["comparator"]) == (5.0, "mg/L", "<")


async def test_a_json_limit_is_published_with_its_comparator(lab: Lab) -> None:
    result = {
        "result_id": "R-CENS", "loinc": "1988-5", "value": "<= 3", "unit": "mg/L",
        "status": "final", "collected_at": "2026-11-20T08:00:00+01:00",
    }  # fmt: skip
    body = {
        "message_id": "J-CENS", "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": MRN}, "results": [result],
    }  # fmt: skip
    assert await post(lab, "/v1/lab-results", body) == 202
    (event,) = await events(lab, 1)
    assert (event["value"], event["comparator"]) == (3.0, "<=")


async def test_a_censored_value_refused_before_is_replayed_and_published_as_a_limit(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rejection kept by the version that refused limits (its reason censored-value, its
    digest made without off-scale flags) replays now: the limit is stored and published."""
    fields = [f"NM|751-8^Neutrophils^LN||0.1|10*9/L|1.8-7.7|LL~<|||F|||{TS}"]
    message = oru("CENS-OLD", fields, application="NEW")
    client = await lab.mllp()
    assert msa(await client.exchange(message))[1] == "AR"  # kept (sender not yet allowed)
    await client.close()
    rejection = await rejection_of(lab, "CENS-OLD")
    key = subject_hmac_key(lab.settings)
    parsed, _ = parse_oru(message, identify=partial(hospital_id_hmac, key))
    as_before = content_digest(parsed, hospital_id_hmac(key, MRN), off_scale=False)
    await lab.pool.execute(
        "UPDATE rejections SET reason_code = 'censored-value', content_digest = $2"
        " WHERE rejection_id = $1",
        rejection,
        as_before,
    )
    async with lab.pool.acquire() as conn:
        await add_source(conn, "NEW", "HOSP")
    assert await cli(lab, "replay", rejection) == 0
    assert "stored: 1 result(s)" in capsys.readouterr().out
    (event,) = await events(lab, 1)
    assert (event["analyte"], event["value"], event["comparator"]) == ("neutrophils", 0.1, "<")


async def test_limits_stored_are_counted(lab: Lab) -> None:
    fields = [f"SN|1988-5^CRP^LN||<^5|mg/L|||||F|||{TS}", f"NM|1742-6^ALT^LN||40|U/L|||||F|||{TS}"]
    client = await lab.mllp()
    assert msa(await client.exchange(oru("CENS-M", fields)))[1] == "AA"
    await client.close()
    assert await lab.metric("lab_results_stored_total", channel="mllp") == 2
    assert await lab.metric("lab_results_limits_total", channel="mllp") == 1


@pytest.mark.parametrize("kind", ["transaction", "batch"])
async def test_limits_in_a_bundle_are_counted_once_and_not_again_when_it_is_resent(
    lab: Lab, kind: str
) -> None:
    limit = crp_observation("OBS-B-LIMIT")
    limit["valueQuantity"] = {**limit["valueQuantity"], "value": 3, "comparator": "<"}
    measured = {**crp_observation("OBS-B-PLAIN"), "effectiveDateTime": "2026-11-20T09:00:00+01:00"}
    body = bundle(kind, [limit, measured])
    assert (await fhir_post(lab, "/fhir", body))[0] == 200
    assert (await fhir_post(lab, "/fhir", body))[0] == 200  # sent again whole: a resend
    assert await lab.metric("lab_results_stored_total", channel="fhir") == 2
    assert await lab.metric("lab_results_limits_total", channel="fhir") == 1
    published = await events(lab, 2)
    assert sorted(str(p.get("comparator")) for p in published) == ["<", "None"]
