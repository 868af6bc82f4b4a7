"""A large input's redacted copy, made on a worker thread before the input is handed on.

The service layer redacts an input only when it rejects it (an accepted message needs no
copy), inside the group commit, on the event loop: for a message of a megabyte that is half a
second in which no sender is answered. An input larger than ``LARGE_INPUT_CHARS`` (a real lab
message is a few KiB) is therefore redacted here first, off the loop, and handed on with its
copy ready; a small one keeps the lazy redaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.worker_threads import on_worker_thread

LARGE_INPUT_CHARS = 64 * 1024

log = logging.getLogger(__name__)


async def redacted_off_loop(redact: Callable[[], str], size: int) -> Callable[[], str]:
    """``redact`` itself for an input of ``size`` characters or bytes up to
    ``LARGE_INPUT_CHARS``; for a larger one, its copy made on a worker thread. A redaction
    that fails here is left to fail again where the service layer keeps such an input."""
    if size <= LARGE_INPUT_CHARS:
        return redact
    try:
        copy = await on_worker_thread(redact)
    except Exception as exc:
        log.warning("redacting a large input failed", extra={"error": type(exc).__name__})
        return redact
    return lambda: copy
