"""The MLLP listener's limits and deadlines (their defaults: settings can change most), and
the reasons a frame is kept unanswered or answered AR before it is read as HL7."""

from __future__ import annotations

# A laboratory keeps a few connections open; each may buffer a frame of up to the message
# limit, so an unbounded number (anyone who reaches the port, before the allow-list is read)
# could exhaust memory. A connection beyond the cap is closed at once.
MAX_CONNECTIONS = 32
# At the cap, a new connection takes the slot of the one idle longest (no frame begun or
# being answered, nothing sent for at least this long): whoever holds every slot open (a
# port scanner, a hostile host, a misconfigured engine opening one connection per message)
# would otherwise lock the laboratories out for good. A lab's engine whose idle connection
# was closed opens a new one for its next message.
YIELD_SLOT_AFTER_IDLE_SECONDS = 10.0
# A frame begun and then not continued for this long (a stalled or hostile sender) ends its
# connection, kept as a truncated frame; an idle connection between frames may wait for ever
# (as long as its peer is there: ``mllp_streams.keep_alive``). So does a frame not ended
# within the deadline of its first byte (one trickled a byte at a time never stalls; no lab
# engine takes minutes to send a megabyte on a LAN). Settings: ``mllp_frame_*_seconds``.
FRAME_STALL_SECONDS = 60.0
FRAME_DEADLINE_SECONDS = 300.0
# An ACK not taken by its peer within this long ends its connection (aborted): a peer that
# sends frames and never reads their ACKs would otherwise hold its slot for good, being
# answered, and 32 such would lock every laboratory out (review 132). The message is stored
# by then: a lab's resend is answered as a duplicate. Setting: ``mllp_send_seconds``.
SEND_SECONDS = 20.0
SEND_TIMED_OUT = "MLLP connection aborted: its ACK not taken within the send deadline"
# At shutdown, frames being answered (the committer still commits what was submitted) get
# their ACK for at most this share of the shutdown deadline, and at most this long.
SHUTDOWN_GRACE_SHARE = 0.25
SHUTDOWN_GRACE_MAX_SECONDS = 2.0
CANCELLED_CONNECTIONS_END_SECONDS = 0.5
STRAY_BYTES = "bytes outside an MLLP frame (before its <VT>), kept apart from the frame after"
ABANDONED_BLOCK = "MLLP frame abandoned: a new frame began before <FS><CR>"
NO_START_BLOCK = "MLLP frame does not start with <VT> (0x0B)"
TOO_LARGE = "message larger than {limit} bytes"
# a block over the limit not answered is kept (its copy empty) with why, as any other
TRUNCATED = "connection closed in the middle of an MLLP frame (truncated message)"
RESET = "connection reset in the middle of an MLLP frame (truncated message)"
LARGER = "; it was larger than {limit} bytes"


def shutdown_grace(deadline_seconds: float) -> float:
    """How long, of a shutdown deadline, frames being answered may take to get their ACK."""
    return min(SHUTDOWN_GRACE_MAX_SECONDS, deadline_seconds * SHUTDOWN_GRACE_SHARE)
