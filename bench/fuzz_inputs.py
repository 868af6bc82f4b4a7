"""Bad-input run: N fuzzed HL7 (MLLP), JSON and FHIR inputs against lab-ingestion.

SPEC section 5: 10,000 fuzzed HL7/FHIR/JSON inputs, 0 crashes, each rejected with a reason,
nothing dropped silently. Every MLLP frame must get exactly one ACK (AA, AE or AR), every
HTTP request an answer below 500, the service must still be the same process at the end,
and every input that was not accepted must have left exactly one row in `rejections`, and
so must every block the listener keeps apart without an ACK (bytes before a frame's last
<VT>: the fuzzer inserts <VT> too). A fuzzed frame is read as the listener reads it
(``mllp_streams.frames_of``): an <FS> the fuzzer put directly before a <VT> ends a frame, so
such a frame is two, and gets two ACKs; a frame holding nothing but blanks after its last
<VT> (``mllp_streams.empty``: a keep-alive) gets none, and leaves no row.

    PYTHONPATH=. .venv/bin/python bench/fuzz_inputs.py [N]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import aiohttp
import asyncpg

from bench.infra import BENCH_SUBJECT_HMAC_KEY, embedded_infrastructure, free_port
from bench.ingest_mllp import oru, prepare, service_env, wait_for, wait_ready
from services.lab_ingestion.entrypoints.mllp_streams import (
    LINE_NOISE,
    blocks_of,
    empty,
    frames_of,
)
from shared.auth import Role, create_token
from shared.settings import PlatformSettings

DELIMITERS = "|^~\\&\r\n\x0b\x1c"
ESCAPES = ("\\.in+x\\", "\\.sp+x\\", "\\.br\\", "\\X4\\", "\\Zx\\", "\\H\\", "\\E\\", "\\F\\", "\\")
SEED = 20261125


def mutate_text(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 5)):
        position = rng.randrange(len(text) + 1)
        choice = rng.random()
        if choice < 0.25:
            text = text[:position] + rng.choice(DELIMITERS) + text[position:]
        elif choice < 0.45:
            text = text[:position] + text[position + rng.randint(1, 40) :]
        elif choice < 0.6:
            text = (
                text[:position]
                + "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(5))
                + text[position:]
            )
        elif choice < 0.7:
            text = text.replace("ORU^R01", rng.choice(["ADT^A01", "ORU", "", "ORU^R01^X"]))
        elif choice < 0.8:
            text = text.replace("2.5.1", rng.choice(["2.6", "", "9", "2.3"]))
        elif choice < 0.9:
            text = text.replace("mg/L", rng.choice(["", "U/L", "furlongs", "mg\\S\\L", "µmol/L"]))
        elif choice < 0.93:  # python-hl7 raises on some (MSH-11.2 once escaped the parser)
            text = text[:position] + rng.choice(ESCAPES) + text[position:]
        elif choice < 0.96:
            text = escape_in_msh(rng, text)
        else:
            text = text[: rng.randrange(len(text) + 1)]
    return text


def escape_in_msh(rng: random.Random, text: str) -> str:
    """An escape sequence as one component of a random MSH field (MSH-3 to MSH-12)."""
    msh, separator, rest = text.partition("\r")
    fields = msh.split("|")
    if len(fields) < 4:
        return text
    number = rng.randrange(2, len(fields))
    fields[number] += rng.choice(["", "^", "^x^"]) + rng.choice(ESCAPES)
    return "|".join(fields) + separator + rest


def fuzzed_hl7(rng: random.Random, i: int) -> bytes:
    text = oru(100_000 + i)[1:-2].decode()
    body = mutate_text(rng, text).encode("utf-8", errors="replace")
    body = body.replace(b"\x1c\r", b"\x1c ")  # keep one frame one frame
    if rng.random() < 0.05:
        return body + b"\x1c\r"  # no start byte
    return b"\x0b" + body + b"\x1c\r"


def frames_read(data: bytes) -> list[bytes]:
    """The frames the listener reads in ``data`` (a fuzzed frame, ended <FS><CR>)."""
    frames, rest = frames_of(data)
    assert not rest, data
    return frames


def acks_expected(data: bytes) -> int:
    """How many ACKs the listener sends for ``data``: one a frame it reads in it, unless
    that frame's last block is empty."""
    return sum(not empty(blocks_of(frame.lstrip(LINE_NOISE))[-1]) for frame in frames_read(data))


def blocks_kept_apart(data: bytes) -> int:
    """How many pieces of ``data`` the listener keeps as rejections without answering them
    (stray bytes and blocks abandoned before a frame's last <VT>), beside those it answers."""
    return sum(len(blocks_of(frame.lstrip(LINE_NOISE))) - 1 for frame in frames_read(data))


def fuzz_value(rng: random.Random, value: Any) -> Any:
    choice = rng.random()
    if choice < 0.2:
        return None
    if choice < 0.4:
        return rng.choice([0, -1, 1e308, "x" * rng.randint(0, 3000), [], {}, True])
    if choice < 0.6 and isinstance(value, str):
        return mutate_text(rng, value)
    if choice < 0.8 and isinstance(value, dict):
        return {k: fuzz_value(rng, v) for k, v in value.items() if rng.random() < 0.8}
    if isinstance(value, list):
        return [fuzz_value(rng, v) for v in value]
    return value


def json_body(i: int) -> dict[str, Any]:
    return {
        "message_id": f"J-{i}", "source": {"application": "LIS", "facility": "HOSP"},
        "patient": {"identifier": f"MRN{i % 200:05d}"},
        "results": [{"result_id": f"R-{i}", "loinc": "1988-5", "value": "12.5", "unit": "mg/L",
                     "status": "final", "collected_at": "2026-11-20T08:00:00+01:00"}],
    }  # fmt: skip


def fhir_body(i: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": f"o-{i}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5"}]},
        "subject": {"identifier": {"value": f"MRN{i % 200:05d}"}},
        "effectiveDateTime": "2026-11-20T08:00:00+01:00",
        "valueQuantity": {"value": 3.1, "unit": "mg/dL", "code": "mg/dL"},
    }  # fmt: skip


async def run_hl7(port: int, frames: list[bytes]) -> Counter[str]:
    """Send each frame and read the ACKs it is owed (``acks_expected``); an ACK more, read
    in the place of a later frame's, is left over at the end and counted "unexpected"."""
    answers: Counter[str] = Counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for frame in frames:
        try:
            writer.write(frame)
            await writer.drain()
            acks = [
                await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 10)
                for _ in range(acks_expected(frame))
            ]
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):  # no ACK
            answers["unanswered"] += 1
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            continue
        for ack in acks:
            code = ack.split(b"MSA|", 1)[1][:2].decode() if b"MSA|" in ack else "none"
            answers[code] += 1
    with contextlib.suppress(TimeoutError):
        left_over = await asyncio.wait_for(reader.read(1 << 16), 1)
        answers["unexpected"] += left_over.count(b"\x1c\r")
    writer.close()
    return answers


async def run_http(base: str, token: str, requests: list[tuple[str, bytes]]) -> Counter[int]:
    answers: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        for path, body in requests:
            async with http.post(base + path, data=body, headers=headers) as response:
                answers[response.status] += 1
    return answers


def http_inputs(rng: random.Random, n: int) -> list[tuple[str, bytes]]:
    requests = []
    for i in range(n):
        if rng.random() < 0.5:
            path, body = "/v1/lab-results", fuzz_value(rng, json_body(i))
        else:
            path, body = "/fhir/Observation", fuzz_value(rng, fhir_body(i))
        raw = (
            json.dumps(body).encode() if rng.random() < 0.9 else rng.randbytes(rng.randint(0, 200))
        )
        requests.append((path, raw))
    return requests


async def main(n: int) -> None:
    rng = random.Random(SEED)
    with embedded_infrastructure() as infra:
        settings = PlatformSettings(
            subject_hmac_key=BENCH_SUBJECT_HMAC_KEY,
            database_url=infra.postgres.dsn(),
            kafka_bootstrap_servers=infra.broker.bootstrap_servers,
            data_dir=infra.data / "state", lab_ingestion_http_port=free_port(),
            lab_ingestion_mllp_port=free_port(),
        )  # fmt: skip
        await prepare(settings)
        conn = await asyncpg.connect(settings.postgres_dsn)
        token = await create_token(conn, "fuzzer", Role.LAB)
        service = subprocess.Popen(
            [sys.executable, "-m", "cachexia.cli", "service", "lab-ingestion"],
            env=service_env(settings), stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(settings.lab_ingestion_mllp_port)
            base = f"http://127.0.0.1:{settings.lab_ingestion_http_port}"
            await asyncio.to_thread(wait_ready, f"{base}/readyz")
            n_hl7 = n * 6 // 10
            frames = [fuzzed_hl7(rng, i) for i in range(n_hl7)]
            requests = http_inputs(rng, n - n_hl7)
            started = time.perf_counter()
            hl7_answers = await run_hl7(settings.lab_ingestion_mllp_port, frames)
            http_answers = await run_http(base, token, requests)
            elapsed = time.perf_counter() - started
            alive = service.poll() is None
            not_kept = await unlisted_not_kept(base)
            rejections = await conn.fetchval("SELECT count(*) FROM lab_ingestion.rejections")
            reasons = await conn.fetch(
                """SELECT reason_code, count(*) AS n FROM lab_ingestion.rejections
                   GROUP BY 1 ORDER BY 2 DESC"""
            )
        finally:
            service.terminate()
            service.wait(10)
            await conn.close()
    not_accepted = (
        hl7_answers["AE"]
        + hl7_answers["AR"]
        + sum(count for status, count in http_answers.items() if status in (400, 422))
    )
    print(
        f"{n} fuzzed inputs in {elapsed:.1f} s: {n_hl7} HL7 over MLLP, "
        f"{n - n_hl7} JSON/FHIR over HTTP"
    )
    acks = sum(acks_expected(frame) for frame in frames)
    answered = sum(hl7_answers.values()) - hl7_answers["unanswered"] - hl7_answers["unexpected"]
    print(
        f"MLLP answers: {dict(hl7_answers)} (frames {n_hl7}, ACKs expected {acks}, "
        f"answered {answered})"
    )
    print(f"HTTP answers: {dict(sorted(http_answers.items()))}")
    print(f"server errors (5xx): {sum(c for s, c in http_answers.items() if s >= 500)}; "
          f"service still running: {alive}")  # fmt: skip
    kept_apart = sum(blocks_kept_apart(frame) for frame in frames)
    print(f"inputs not accepted: {not_accepted}; blocks kept apart unanswered: {kept_apart}; "
          f"unknown senders' inputs answered but not kept (over their peer's budget, counted in "
          f"lab_mllp_unlisted_not_kept_total): {not_kept}; rejection rows: {rejections} "
          f"(expected {not_accepted + kept_apart - not_kept})")  # fmt: skip
    print("rejection reasons: " + ", ".join(f"{r['reason_code']} {r['n']}" for r in reasons))


async def unlisted_not_kept(base: str) -> int:
    """Inputs of senders not on the allow-list answered but not kept: their peer address was
    over its budget of kept copies (``unlisted_copies``), as the fuzzer's one peer soon is."""
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        text = await response.text()
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("lab_mllp_unlisted_not_kept_total")))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
