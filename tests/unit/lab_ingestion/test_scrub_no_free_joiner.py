"""Review 224: values holding every character the scrubber may join them with are given up
on (``[redacted]``), never a StopIteration; and no StopIteration leaves a worker thread
unanswered (``shared.worker_threads``)."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_decoded_scrub import NoFreeJoiner, free_joiner
from services.lab_ingestion.adapters.hl7_redaction import redact
from shared.worker_threads import on_worker_thread

JOINERS = "".join(map(chr, itertools.chain(
    range(0x01, 0x09), range(0x0E, 0x1C), range(0x7F, 0x85), range(0x86, 0xA0),
    range(0xF0000, 0x10FFFE))))  # fmt: skip


def _hash(value: str) -> str:
    return "HMAC:" + str(len(value))


def _message(note: str, *, escaped: bool = False) -> str:
    extra = "\\.br\\" if escaped else ""
    return "\r".join([
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|JN-1|P|2.5.1|||||UNICODE UTF-8",
        "PID|1||MRN4711^^^HOSP^MR||DOE^JOHN||19580214|M|||Gartenweg 3^^Thun^^3600",
        "OBR|1|PLC1|F1|CRP^CRP^L|||20261120081500+0100",
        "OBX|1|NM|1988-5^CRP^LN||42|mg/L|0-5|H|||F|||20261120081500+0100",
        f"NTE|1||{note}{extra}",
    ])  # fmt: skip


def test_free_joiner_refuses_texts_holding_every_joiner() -> None:
    with pytest.raises(NoFreeJoiner):
        free_joiner([JOINERS[: len(JOINERS) // 2], JOINERS[len(JOINERS) // 2 :]])


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=40))
def test_free_joiner_is_a_character_none_holds(text: str) -> None:
    joiner = free_joiner([text, text[::-1]])
    assert joiner not in text and joiner in JOINERS


@pytest.mark.parametrize("escaped", [False, True])
def test_a_value_holding_every_joiner_is_redacted_whole(escaped: bool) -> None:
    kept = redact(_message(f"Thun {JOINERS} Thun", escaped=escaped), _hash)
    (note,) = [line for line in kept.split("\r") if line.startswith("NTE")]
    assert note == "NTE|1||[redacted]"
    assert "|JN-1|" in kept and "1988-5^CRP^LN" in kept  # the rest of the copy as ever


def _stops() -> int:
    raise StopIteration


def test_a_stop_iteration_on_a_worker_thread_is_an_error_the_caller_gets() -> None:
    async def run() -> None:
        with pytest.raises(RuntimeError, match="StopIteration escaped _stops"):
            await asyncio.wait_for(on_worker_thread(_stops), 5)
        assert await on_worker_thread(sorted, [2, 1], reverse=True) == [2, 1]

    asyncio.run(run())
