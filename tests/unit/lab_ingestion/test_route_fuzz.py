"""Bad input on every JSON route: never a crash, always a specific answer, always kept."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from services.lab_ingestion.adapters.redaction import REDACTED
from tests.unit.lab_ingestion.route_fakes import (
    JSON_BODY,
    LAB,
    MRN,
    PATIENT,
    FakeSubmit,
    bundle,
    lab_client,
    observation,
)

SCALARS: list[Any] = [None, True, 0, -1, 1e308, "", "x" * 300, MRN, "2026-13-40", [], {}]


def mutate(rng: random.Random, node: Any, depth: int = 0) -> Any:
    if isinstance(node, dict) and node:
        out = dict(node)
        key = rng.choice(list(out))
        roll = rng.random()
        if roll < 0.3:
            del out[key]
        elif roll < 0.5:
            out[rng.choice(["patientName", "comment", "name", "extra"])] = rng.choice(SCALARS)
        elif depth < 6:
            out[key] = mutate(rng, out[key], depth + 1)
        else:
            out[key] = rng.choice(SCALARS)
        return out
    if isinstance(node, list) and node:
        items = list(node)
        index = rng.randrange(len(items))
        items[index] = mutate(rng, items[index], depth + 1)
        return items
    return rng.choice(SCALARS)


def raw_inputs(rng: random.Random, valid: dict[str, Any]) -> list[bytes]:
    bodies = [json.dumps(mutate(rng, copy.deepcopy(valid))).encode() for _ in range(60)]
    bodies += [rng.randbytes(rng.randint(0, 80)) for _ in range(10)]
    bodies += [b"[" * 5000, b'{"a":' * 900 + b"1" + b"}" * 900, b"", b"null", b'"text"']
    return bodies


async def test_every_bad_input_is_answered_and_kept_never_a_crash() -> None:
    rng = random.Random(20261120)
    routes = {
        "/v1/lab-results": JSON_BODY,
        "/fhir/Observation": observation(),
        "/fhir": bundle("batch", PATIENT, observation(), observation(id="o2", identifier=None)),
    }
    submit = FakeSubmit()
    async with lab_client(submit) as client:
        for path, valid in routes.items():
            for raw in raw_inputs(rng, valid):
                before = len(submit.rejections)
                response = await client.post(path, data=raw, headers=LAB)
                assert response.status in {200, 201, 202, 400, 422}, (path, raw[:80])
                if path.startswith("/fhir"):
                    assert response.content_type == "application/fhir+json"
                if response.status == 400 and path != "/fhir":
                    assert len(submit.rejections) == before + 1, (path, raw[:80])
    for rejection in submit.rejections:
        assert MRN not in rejection.redacted_payload
        assert MRN not in rejection.reason
        assert len(rejection.reason) <= 500
        assert rejection.reason.strip() and rejection.reason != REDACTED
