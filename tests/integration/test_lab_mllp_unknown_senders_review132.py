"""What anyone who reaches the MLLP port can do without a token (review 132), over the real
socket (PostgreSQL and Kafka behind it): a peer that never reads its ACKs is cut off at the
send deadline and the laboratories are served; a sender not on the allow-list (or a frame
naming none) leaves at most a few KiB of copy, and a few kept rejections a minute per peer
address (beyond, every frame is still answered AR, nothing written); an allow-listed
sender's copies stay whole."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from collections.abc import AsyncIterator

import pytest

from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import frame, msa, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration

SEND_SECONDS = 1.5
PER_MINUTE = 3
COPY_CHARS = 4096


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    limited = settings.model_copy(update={
        "mllp_send_seconds": SEND_SECONDS,
        "mllp_unlisted_copies_per_minute": PER_MINUTE,
        "mllp_unlisted_copy_chars": COPY_CHARS,
    })  # fmt: skip
    async with running_lab(limited, database) as lab:
        yield lab


def padded(message: str, size: int) -> str:
    """``message`` with an NTE making it ``size`` characters long."""
    head = message + "NTE|1||"
    return head + "a" * (size - len(head) - 1) + "\r"


def unknown(control_id: str, size: int = 60 * 1024) -> str:
    return padded(oru(control_id, [obx("1988-5", "20", "mg/L")], application="NOSUCH",
                      facility="NOWHERE"), size)  # fmt: skip


async def rows(lab: Lab) -> list[tuple[str, str, str]]:
    return [
        (r["source"], r["payload"], r["reason"])
        for r in await lab.pool.fetch("SELECT source, payload, reason FROM rejections")
    ]


async def test_an_unknown_senders_large_frame_keeps_its_length_and_digest_only(lab: Lab) -> None:
    """Frames just under 64 KiB were each kept whole and published: 6.8 MB/s from one host."""
    client = await lab.mllp()
    large, small = unknown("BIG-1"), unknown("SMALL-1", 1024)
    assert msa(await client.exchange(large))[1] == "AR"
    assert msa(await client.exchange(small))[1] == "AR"
    noise = "no MSH here " * 5000  # a frame that names no sender
    assert msa(await client.exchange(noise))[1] == "AR"
    await client.close()
    kept = await rows(lab)
    payloads = sorted((payload for _, payload, _ in kept), key=len)
    assert len(payloads) == 3 and payloads[0] == payloads[1] == ""
    assert 500 < len(payloads[2]) <= COPY_CHARS  # the small one, whole (redacted)
    reasons = " ".join(reason for _, _, reason in kept)
    for sent in (large, noise):
        digest = hashlib.sha256(sent.encode()).hexdigest()
        assert f"its copy of {len(sent)} characters, SHA-256 {digest}, is not kept" in reasons


async def test_a_listed_senders_large_copy_is_kept_whole(lab: Lab) -> None:
    """README: every rejection of an allow-listed sender is kept with its payload."""
    client = await lab.mllp()
    sent = padded(oru("LISTED-1", [obx("1988-5", "20", "mg/L")], version="2.1"), 60 * 1024)
    assert msa(await client.exchange(sent))[1] == "AR"
    await client.close()
    ((source, payload, _),) = await rows(lab)
    assert source == "LIS^HOSP" and len(payload) > 50 * 1024


async def test_a_burst_beyond_the_peer_budget_is_answered_but_not_written(lab: Lab) -> None:
    client = await lab.mllp()
    answers = [msa(await client.exchange(unknown(f"BURST-{n}", 2048))) for n in range(8)]
    await client.close()
    assert [(a[1], a[2]) for a in answers] == [("AR", f"BURST-{n}") for n in range(8)]
    assert len(await rows(lab)) == PER_MINUTE
    assert await lab.metric("lab_mllp_unlisted_not_kept_total") == 8 - PER_MINUTE
    listed = await lab.mllp()  # an allow-listed sender from the same address: kept
    assert msa(await listed.exchange(oru("LISTED-2", [obx("1988-5", "x", "mg/L")])))[1] != "AA"
    await listed.close()
    assert len(await rows(lab)) == PER_MINUTE + 1


async def test_a_peer_that_never_reads_its_acks_is_cut_off_and_the_labs_are_served(
    lab: Lab,
) -> None:
    """Frames sent, their ACKs never read: the listener's drain waited for ever, the
    connection 'answering' (never swept, never idle); 32 such locked every lab out. Now the
    connection is aborted at the send deadline; each ACK echoes at most an HD of MSH-5."""
    port = lab.settings.lab_ingestion_mllp_port
    big = "R" * 600_000
    probe = await lab.mllp()  # the ACK of a 600 KB MSH-5 is small
    sent = f"MSH|^~\\&|NOSUCH|NOWHERE|{big}|TRIAL|20261120||ORU^R01|ECHO-1|P|2.5.1\rPID|1\r"
    ack = await probe.exchange(sent)
    await probe.close()
    assert len(ack) < 2_000 and msa(ack)[2] == "ECHO-1"

    name = "N" * 300  # each echoed field at its most: about 1.7 KB an ACK
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    slow.connect(("127.0.0.1", port))
    slow.setblocking(False)
    started, pending, n = time.monotonic(), b"", 0
    cut = False
    while time.monotonic() - started < 120 and not cut:
        while not pending:
            n += 1
            pending = frame(
                f"MSH|^~\\&|{name}|{name}|{name}|{name}|20261120||ORU^R01|{'S' * 190}{n}|P|"
                "2.5.1\rPID|1\r"
            )
        try:
            pending = pending[slow.send(pending) :]
        except BlockingIOError:
            await asyncio.sleep(0.05)
        except OSError:  # reset by the listener
            cut = True
        await asyncio.sleep(0)
    slow.close()
    assert cut, "the connection was never cut"
    assert await lab.metric("lab_mllp_send_timeouts_total") == 1
    client = await lab.mllp()
    assert msa(await client.exchange(oru("AFTER-1", [obx("1988-5", "20", "mg/L")])))[1] == "AA"
    await client.close()
