"""A service that `cachexia up` started ends with it, even when `cachexia up` itself is
killed (SIGKILL, an OOM kill) and cannot stop it: left running, the services (each in its
own process group) went on acknowledging lab messages unsupervised, and held their ports
against the next `make run`. Linux sends a process its parent-death signal when the thread
that started it ends (`cachexia up` starts its services from its main thread, which lives
as long as the process)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from shared.unknown_settings import SUPERVISOR_PID

SUPERVISOR_PID_VARIABLE = SUPERVISOR_PID  # named here for the processes it starts
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def supervised_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a service this process supervises: it ends when this process does."""
    return {**env, SUPERVISOR_PID_VARIABLE: str(os.getpid())}


def end_with_supervisor() -> bool:
    """In a service started by `cachexia up` (``supervised_env``): have Linux send SIGTERM
    (a graceful stop) when the supervisor ends; if it ended before this was asked, stop now.
    Elsewhere (started by hand, another system) nothing. True if the signal is set up."""
    supervisor = os.environ.get(SUPERVISOR_PID_VARIABLE, "")
    if not supervisor.isdigit() or not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return False
    if os.getppid() != int(supervisor):  # it ended already: nobody would signal us
        os.kill(os.getpid(), signal.SIGTERM)
    return True
