"""What an MLLP input from a sender not on the allow-list, or naming none, may leave (review
132): its copy up to a few KiB (beyond, its length and SHA-256, the copy not even made), and
a few kept rejections a minute per peer address (beyond, answered but not written)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from services.lab_ingestion.adapters.hl7_codec import redact
from services.lab_ingestion.adapters.metrics import LabIngestionMetrics
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.domain.records import Sender
from services.lab_ingestion.entrypoints import hl7_flow
from services.lab_ingestion.entrypoints.hl7_flow import Hl7Acknowledger
from services.lab_ingestion.service_layer.batch_context import BatchContext
from services.lab_ingestion.service_layer.commands import (
    IngestLabMessage,
    Received,
    RecordRejectedInput,
)
from services.lab_ingestion.service_layer.rejections import reject
from services.lab_ingestion.service_layer.unlisted_copies import MAX_CHARS, UnlistedCopies
from shared.contracts.events.lab import Channel
from tests.unit.lab_ingestion.route_fakes import FakeSubmit

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LISTED = ("LIS", "HOSP")
PEER = "192.0.2.7"


def message(
    sender: str = "NOSUCH^NOWHERE", size: int = 60 * 1024, broken: bool = False, pad: str = "a"
) -> bytes:
    """An ORU of about ``size`` bytes, its NTE padded with ``pad`` (``broken``: its MSH-12
    unsupported: not parsed)."""
    application, facility = sender.split("^")
    version = "9.9" if broken else "2.5.1"
    head = (
        f"MSH|^~\\&|{application}|{facility}|LENA|TRIAL|20261120090000+0100||ORU^R01|M-1|P|"
        f"{version}\rPID|1||MRN0042^^^HOSP^MR\rOBR|1|PLC1|ORD1|LAB^Lab panel|||20261120080000\r"
        "OBX|1|NM|1988-5^CRP^LN||20|mg/L|||||F|||20261120080000\rNTE|1||"
    )
    return (head + pad * (size - len(head)) + "\r").encode()


class Redactions:
    """Counts the whole-message redactions the acknowledger makes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made = 0
        real = redact

        def counting(*args: object, **kwargs: object) -> str:
            self.made += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]  # passed on as given

        monkeypatch.setattr(hl7_flow, "redact", counting)


def acknowledger(submit: FakeSubmit, listed: bool | None) -> Hl7Acknowledger:
    return Hl7Acknowledger(
        submit, lambda s: "h" * 64, LabIngestionMetrics(CollectorRegistry()),
        listed=lambda sender: listed,
    )  # fmt: skip


@pytest.mark.parametrize("broken", [False, True])
async def test_an_unknown_senders_large_copy_is_not_even_made(
    monkeypatch: pytest.MonkeyPatch, broken: bool
) -> None:
    """1 MB of backslashes cost 1.5 s of CPU to redact, only for the copy to be dropped."""
    redactions, submit = Redactions(monkeypatch), FakeSubmit()
    raw = message(broken=broken, pad="\\" if broken else "a")
    await acknowledger(submit, listed=False).acknowledge(raw, Channel.MLLP, peer=PEER)
    (command,) = submit.commands
    assert isinstance(command, IngestLabMessage | RecordRejectedInput)
    text = raw.decode()
    assert command.received == Received(len(text), hashlib.sha256(raw).hexdigest())
    assert command.peer == PEER and redactions.made == 0
    if isinstance(command, IngestLabMessage):
        assert command.redact() == ""
    else:
        assert command.redacted_payload == ""


@pytest.mark.parametrize(
    ("sender", "listed", "size", "channel"),
    [
        ("LIS^HOSP", True, 60 * 1024, Channel.MLLP),  # an allow-listed sender's: made
        ("NOSUCH^NOWHERE", None, 60 * 1024, Channel.MLLP),  # the allow-list not read lately
        ("NOSUCH^NOWHERE", False, MAX_CHARS // 2, Channel.MLLP),  # small: kept whole
        ("NOSUCH^NOWHERE", False, 60 * 1024, Channel.HL7_HTTP),  # a token holder's
    ],
)
async def test_other_copies_are_made(
    monkeypatch: pytest.MonkeyPatch, sender: str, listed: bool | None, size: int, channel: Channel
) -> None:
    redactions, submit = Redactions(monkeypatch), FakeSubmit()
    raw = message(sender, size, broken=True)
    await acknowledger(submit, listed=listed).acknowledge(raw, channel)
    (command,) = submit.rejections
    assert command.redacted_payload and redactions.made == 1


async def test_a_large_frame_naming_no_sender_is_not_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    redactions, submit = Redactions(monkeypatch), FakeSubmit()
    raw = b"no MSH at all " * 5000
    await acknowledger(submit, listed=None).reject_frame(
        raw, RejectionCode.MALFORMED, "cut short", peer=PEER
    )
    (command,) = submit.rejections
    assert command.received == Received(len(raw), hashlib.sha256(raw).hexdigest())
    assert redactions.made == 0 and command.peer == PEER


def kept(context: BatchContext, command: RecordRejectedInput) -> list[tuple[str, str]]:
    reject(context, command, command.code, command.reason)
    return [(r.payload, r.reason) for r in context.rejections]


def test_a_copy_not_made_is_kept_as_the_length_and_digest_received() -> None:
    context = BatchContext({LISTED: Sender()}, {}, {}, {})
    received = Received(70_000, "d" * 64)
    command = RecordRejectedInput(
        Channel.MLLP, RejectionCode.MALFORMED, "bad", "", AT, received=received
    )
    ((payload, reason),) = kept(context, command)
    assert payload == "" and "copy of 70000 characters, SHA-256 " + "d" * 64 in reason


def test_an_unknown_senders_copy_keeps_at_most_the_size_set() -> None:
    context = BatchContext({LISTED: Sender()}, {}, {}, {}, unlisted=UnlistedCopies(100))
    small, large = "MSH|^~\\&|X|Y\r" + "a" * 80, "MSH|^~\\&|X|Y\r" + "a" * 200
    for payload in (small, large):
        kept(context, RecordRejectedInput(Channel.MLLP, RejectionCode.MALFORMED, "r", payload, AT))
    assert [r.payload for r in context.rejections] == [small, ""]


def test_a_peer_beyond_its_budget_leaves_nothing_but_a_count() -> None:
    """Listed senders and other peers are not held to it; a minute later it is renewed."""
    now, not_kept = [0.0], []
    budget = UnlistedCopies(
        MAX_CHARS, 3, on_not_kept=lambda: not_kept.append(1), now=lambda: now[0]
    )
    context = BatchContext({LISTED: Sender()}, {}, {}, {}, unlisted=budget)

    def send(peer: str, sender: tuple[str, str] | None = None) -> str:
        command = RecordRejectedInput(
            Channel.MLLP, RejectionCode.MALFORMED, "bad", "x", AT, sender=sender, peer=peer
        )
        return reject(context, command, command.code, command.reason)

    answers = [send(PEER) for _ in range(5)]
    assert answers == ["bad"] * 5  # every one answered as ever
    assert len(context.rejections) == 3 and len(context.events) == 3 and len(not_kept) == 2
    send("198.51.100.1")
    send(PEER, LISTED)  # an allow-listed sender's: always kept
    assert len(context.rejections) == 5
    now[0] = 61.0
    send(PEER)
    assert len(context.rejections) == 6 and len(not_kept) == 2


def test_an_input_planned_again_is_decided_once() -> None:
    budget = UnlistedCopies(MAX_CHARS, 1)
    first, second = uuid.uuid4(), uuid.uuid4()
    assert budget.admit(PEER, first) and budget.admit(PEER, first)
    assert not budget.admit(PEER, second) and not budget.admit(PEER, second)
    assert budget.admit(None, second)  # not over MLLP: no budget
