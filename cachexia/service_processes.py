"""The services `cachexia up` runs, one process each: started in a process group of its own
(so that whatever it starts is stopped with it), the line it wrote on its way out, and its
stop within a deadline (then SIGKILL to the whole group)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cachexia.infra_watch import Restarts
from shared.unknown_settings import WARNING

SERVICE_KILLED_WAIT_SECONDS = 1.0  # SIGKILL is not refused: only reaping is left
# how much of a log's end is read for the line a service wrote on its way out
EXIT_REASON_TAIL_BYTES = 4096


@dataclass
class ServiceProcess:
    name: str
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: Restarts = field(default_factory=Restarts)  # 1, 2, 4 ... 30 s; anew once stable
    next_start: float = 0.0
    started_at: float = field(default=0.0)
    log_start: int = 0  # where this run's output begins in the log

    def start(self, env: dict[str, str]) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.log_start = log.tell()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cachexia.cli", "service", self.name],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )  # fmt: skip
        self.started_at = time.monotonic()
        self.restarts.started_at = self.started_at

    def exit_reason(self) -> str | None:
        """The one line (``cachexia: ...``) this run of the service wrote on its way out,
        such as a port in use, if it wrote one (never a warning such as an unknown
        variable's, which says nothing of why it ended: review 128)."""
        with contextlib.suppress(OSError), self.log_file.open("rb") as log:
            end = log.seek(0, os.SEEK_END)
            log.seek(max(self.log_start, end - EXIT_REASON_TAIL_BYTES))
            lines = log.read().decode(errors="replace").splitlines()
            said = [
                line for line in lines
                if line.startswith("cachexia: ") and not line.startswith(WARNING)
            ]  # fmt: skip
            return said[-1].removeprefix("cachexia: ") if said else None
        return None

    def signal_group(self, sig: signal.Signals) -> None:
        """Signal the service's process group while the service itself runs."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def kill_group(self) -> None:
        """SIGKILL whatever is left in the service's process group: the service, and any
        process it started, also once the service itself has exited (the group outlives
        its leader; its id is not reused while a member is alive)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def stop_by(self, deadline: float) -> None:
        """Wait for the service (already sent SIGTERM) until ``deadline`` (monotonic), then
        kill its group: the service if it is still there, and any straggler."""
        if self.process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(max(0.0, deadline - time.monotonic()))
        self.kill_group()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(SERVICE_KILLED_WAIT_SECONDS)
