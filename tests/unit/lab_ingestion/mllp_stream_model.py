"""A model of an MLLP connection's bytes, frame by frame, and of what the listener owes each
(review 117): the hypothesis strategies and expectations shared by the framing layer's
property test (test_mllp_framing_properties.py) and the socket's one-ACK-per-frame test
(test_mllp_one_ack_per_frame.py).

The expectations are written from the README's rules, not from the framing functions: a
frame ends at <FS><CR>, or at an <FS> directly before a <VT>; line noise between frames is
read past; what precedes a frame's last <VT> is kept unanswered (stray bytes, an abandoned
block); an empty block is a keep-alive (counted, neither answered nor kept); a frame without
a <VT> is answered AR; a block over the size limit is discarded and answered AR echoing its
MSH (kept unanswered when a new block begins first, or the stream ends); a frame cut by the
end of the stream is kept unanswered."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import strategies as st

from services.lab_ingestion.entrypoints.mllp_limits import (
    ABANDONED_BLOCK,
    LARGER,
    NO_START_BLOCK,
    STRAY_BYTES,
    TOO_LARGE,
    TRUNCATED,
)
from tests.unit.lab_ingestion.test_mllp_ack_conformance import CR, FS, VT, body, header

LIMIT = 1024  # the listener's size limit in these tests: a few messages' worth
NOISE = b"\r\n\t "  # what a sender may put between frames (mllp_streams.LINE_NOISE)
OVER = LARGER.format(limit=LIMIT)

# line noise a frame may begin with (left by the frame before: <FS><CR><LF>, say)
noise = st.sampled_from([b"", b"", b"\n", b"\r\n", b" \t", b"\r"])
# bytes that are no message: no <VT>, an <FS> only before a byte that does not end a frame,
# not line noise alone, never read as an MSH (whose MSH-18 could name another character set)
garbage = (
    st.lists(
        st.one_of(
            st.binary(min_size=1, max_size=12).map(lambda b: b.replace(VT, b"").replace(FS, b"")),
            st.just(FS + b"!"),
            st.sampled_from([b"this is not MLLP", b"garbage\x00more", b"\xff\xfe", b"|^~\\&|"]),
        ),
        min_size=1,
        max_size=6,
    )
    .map(b"".join)
    .filter(lambda b: bool(b.strip(NOISE)) and b"MSH" not in b)
)


def message(control_id: str) -> bytes:
    """An ORU^R01 the service accepts, MSH-10 ``control_id``."""
    return (header(control_id) + body(order=control_id)).encode()


def msh(control_id: str) -> bytes:
    """The MSH segment of ``message(control_id)``, as the AR of a block over the limit
    echoes it."""
    return header(control_id).rstrip("\r").encode()


def oversized(control_id: str, size: int) -> bytes:
    """A message of more than ``LIMIT`` bytes (a long comment)."""
    return message(control_id) + b"NTE|1||" + b"x" * size + CR


@dataclass(frozen=True)
class Answer:
    """What a frame is answered with: the acknowledger's call (``acknowledge`` the block's
    text, or ``reject_frame``) and, from the real acknowledger, MSA-1 and MSA-2."""

    call: tuple[object, ...]
    msa: tuple[str, str]


@dataclass(frozen=True)
class Frame:
    """One frame of a stream, its end mark left out (``ended``: it has one)."""

    data: bytes
    kept: tuple[tuple[bytes, str], ...] = ()  # kept unanswered, in order: (copy, reason)
    answer: Answer | None = None
    keep_alive: bool = False
    ended: bool = True

    @property
    def starts_a_block(self) -> bool:
        return self.data.startswith(VT)


def acknowledged(raw: bytes, msa: tuple[str, str]) -> Answer:
    return Answer(("acknowledge", raw), msa)


def refused(raw: bytes, reason: str, header_from: bytes | None, msa: tuple[str, str]) -> Answer:
    return Answer(("reject", raw, reason, header_from), msa)


@st.composite
def before_a_block(draw: st.DrawFn, control_id: str) -> tuple[bytes, tuple[tuple[bytes, str], ...]]:
    """What a block may be preceded by in its frame (after line noise): nothing, stray
    bytes, or a block abandoned (no end), each kept unanswered; and the noise."""
    lead = draw(noise)
    kinds = ["none", "none", "stray", "abandoned", "blank", "long stray", "long abandoned"]
    kind = draw(st.sampled_from(kinds))
    # long: within the limit, yet more than the limit with the block after (each is read
    # as ever); a few bytes short of it, as line noise before them counts towards it
    long = draw(st.integers(LIMIT // 2, LIMIT - 64))
    if kind in ("stray", "long stray"):
        stray = b"z" * long if kind == "long stray" else draw(garbage)
        return lead + stray, (((lead + stray).lstrip(NOISE), STRAY_BYTES),)
    if kind in ("abandoned", "long abandoned"):
        abandoned = VT + msh(f"{control_id}-ABANDONED") + CR + draw(garbage)
        if kind == "long abandoned":
            abandoned += b"NTE|1||" + b"x" * (long - len(abandoned))
        return lead + abandoned, ((abandoned, ABANDONED_BLOCK),)
    if kind == "blank":  # a <VT> alone, or with line noise: no block, nothing kept
        return lead + VT + draw(st.sampled_from([b"", b"\r\n", b" "])), ()
    return lead, ()


@st.composite
def frame(draw: st.DrawFn, control_id: str, last: bool) -> Frame:
    """One frame of any kind the README names (``last``: the stream's last, which may be
    cut by its end)."""
    kinds = ["message", "message", "block of garbage", "no start block", "keep-alive",
             "over the limit", "abandoned over the limit",
             "stray bytes over the limit"]  # fmt: skip
    if last:
        kinds += ["cut by the end", "cut by the end", "cut over the limit"]
    kind = draw(st.sampled_from(kinds))
    lead, kept = draw(before_a_block(control_id))
    if kind == "message":  # now and then a long one, within the limit
        text = message(control_id)
        if draw(st.booleans()):
            size = draw(st.integers(LIMIT // 2 - len(text), LIMIT - 80 - len(text)))
            text += b"NTE|1||" + b"x" * size + CR
        return Frame(lead + VT + text, kept, acknowledged(text, ("AA", control_id)))
    if kind == "block of garbage":
        text = draw(garbage)
        return Frame(lead + VT + text, kept, acknowledged(text, ("AR", "")))
    if kind == "no start block":  # no <VT> at all: neither stray bytes nor a block before
        lead = draw(noise)
        text, echoed = draw(
            st.one_of(
                st.tuples(garbage, st.just("")),
                st.just((message(control_id), control_id)),
            )
        )
        raw = (lead + text).lstrip(NOISE)
        return Frame(lead + text, answer=refused(raw, NO_START_BLOCK, None, ("AR", echoed)))
    if kind == "keep-alive":
        inside = draw(st.sampled_from([b"", b" ", b"\r\n", b"\t \r"]))
        with_vt = bool(kept) or draw(st.booleans())
        empty = VT + inside if with_vt else inside  # <FS><CR> alone too
        return Frame(lead + empty, kept, keep_alive=True)
    if kind == "over the limit":
        text = oversized(control_id, draw(st.integers(LIMIT, 3 * LIMIT)))
        too_large = refused(b"", TOO_LARGE.format(limit=LIMIT), msh(control_id), ("AR", control_id))
        return Frame(lead + VT + text, kept, too_large)
    if kind in ("abandoned over the limit", "stray bytes over the limit"):
        lead = draw(noise)  # what comes before the large block is the large block
        size = draw(st.integers(LIMIT, 3 * LIMIT))
        if kind == "abandoned over the limit":
            large, reason = VT + oversized(f"{control_id}-LARGE", size), ABANDONED_BLOCK
        else:
            large, reason = b"z" * (size + 1), STRAY_BYTES  # more than the limit
        text = message(control_id)
        answer = acknowledged(text, ("AA", control_id))
        return Frame(lead + large + VT + text, ((b"", reason + OVER),), answer)
    if kind == "cut by the end":  # the stream ends in the middle of the block (or at its <FS>)
        lead = draw(noise)
        text = message(control_id)
        cut = VT + text[: draw(st.integers(1, len(text)))] + draw(st.sampled_from([b"", FS]))
        return Frame(lead + cut, ((lead + cut, TRUNCATED),), ended=False)
    assert kind == "cut over the limit"
    lead = draw(noise)
    text = oversized(control_id, draw(st.integers(LIMIT, 3 * LIMIT)))
    return Frame(lead + VT + text, ((b"", TRUNCATED + OVER),), ended=False)


@dataclass(frozen=True)
class Stream:
    frames: tuple[Frame, ...]
    data: bytes  # the frames with their end marks, as sent

    def calls(self) -> list[tuple[object, ...]]:
        """The acknowledger's calls the frames owe, in order (``reject`` for a copy kept
        unanswered, with no header of its own), each answered one followed by ``sent``."""
        calls: list[tuple[object, ...]] = []
        for each in self.frames:
            calls += [("reject", raw, reason, None) for raw, reason in each.kept]
            if each.answer is not None:
                calls += [each.answer.call, ("sent", each.answer.call)]
        return calls

    def answers(self) -> list[tuple[str, str]]:
        """MSA-1 and MSA-2 of each ACK owed, in order."""
        return [each.answer.msa for each in self.frames if each.answer is not None]

    @property
    def keep_alives(self) -> int:
        return sum(each.keep_alive for each in self.frames)


@st.composite
def streams(draw: st.DrawFn, max_frames: int = 8) -> Stream:
    """A random sequence of frames, each ended by <FS><CR> (or by <FS> alone when the next
    frame begins with its <VT>); the last may be cut by the end of the stream, or be followed
    by line noise."""
    count = draw(st.integers(1, max_frames))
    frames = [draw(frame(f"M{i}", last=i == count - 1)) for i in range(count)]
    data = b""
    for i, each in enumerate(frames):
        data += each.data
        if not each.ended:
            break
        following = frames[i + 1] if i + 1 < len(frames) else None
        fs_alone = following is not None and following.starts_a_block and draw(st.booleans())
        data += FS if fs_alone else FS + CR
    if frames[-1].ended:
        data += draw(noise)
    return Stream(tuple(frames), data)


@st.composite
def splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut into reads at random places (a byte a read, now and then)."""
    if len(data) < 2:
        return [data]
    cuts = draw(st.lists(st.integers(1, len(data) - 1), max_size=24, unique=True))
    # and where a frame ends or begins: before, at and after its <FS>, <CR>, <VT>
    marks = [i + d for i, byte in enumerate(data) if byte in b"\x0b\x1c\r" for d in (0, 1)]
    if marks:
        cuts += draw(st.lists(st.sampled_from(marks), max_size=12))
    if draw(st.integers(0, 9)) == 0:  # somewhere, a run of reads of one byte
        start = draw(st.integers(0, len(data) - 1))
        cuts += range(start + 1, min(start + 40, len(data)))
    edges = [0, *sorted(set(cuts) - {0, len(data)}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]
