"""What `cachexia up` needs around the embedded servers: the data directory's lock (one
platform per data directory) and their start, a port in use said as one line.

The lock is an exclusive ``flock`` on ``<data dir>/platform.lock``, held for the life of
`cachexia up`. The kernel releases it when the holder ends, however it ends (SIGKILL too),
and the processes `cachexia up` starts do not inherit it (file descriptors are not
inherited unless asked for), so no service or server left behind keeps it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path

from cachexia.errors import EXIT_FAILURE, EXIT_USAGE, InfrastructureError
from shared.addresses import host_port
from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.system_user import SystemUserCannotReach
from shared.embedded.tansu import EmbeddedTansu, PortInUse
from shared.settings import setting_variable

LOCK_FILE = "platform.lock"
BROKER_STOP_GRACE_SECONDS = 1.0  # memory storage: nothing to flush, SIGKILL after this


class PlatformLock:
    """The data directory's lock, held from ``hold`` until ``release``."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path, self._descriptor = path, descriptor

    @classmethod
    def hold(cls, data_dir: Path) -> PlatformLock:
        """The lock of ``data_dir``, taken at once; InfrastructureError (one line, nothing
        touched) when a running platform holds it."""
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / LOCK_FILE
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 32).decode(errors="replace").strip()
            os.close(descriptor)
            raise InfrastructureError(_in_use(data_dir, holder), EXIT_FAILURE) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())  # for the next one's message
        return cls(path, descriptor)

    def release(self) -> None:
        with contextlib.suppress(OSError):  # released already
            os.close(self._descriptor)

    def __enter__(self) -> PlatformLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def _in_use(data_dir: Path, holder: str) -> str:
    who = f"`cachexia up`, pid {holder}" if holder.isdigit() else "`cachexia up`"
    return (
        f"a platform is already running from {data_dir} ({who}); stop it first (Ctrl-C in "
        f"its terminal), or give another platform its own {setting_variable('data_dir')} "
        "and ports"
    )


def start_postgres(postgres: EmbeddedPostgres) -> None:
    """Start (or find running) the embedded PostgreSQL; its port in use, or a data
        directory its system user cannot reach through a folder root does not own (one of root's
    is opened for passage only, and said: review 132), is one line."""
    try:
        postgres.start()
    except PortInUse as taken:
        raise _port_error(taken, "embedded_postgres_port") from None
    except SystemUserCannotReach as closed:
        raise InfrastructureError(str(closed), EXIT_USAGE) from None


def spawn_broker(broker: EmbeddedTansu) -> None:
    """Start the embedded broker's process (``EmbeddedTansu.spawn``: from the thread it is
    to end with); its port in use is one line."""
    try:
        broker.spawn()
    except PortInUse as taken:
        raise _port_error(taken, "embedded_kafka_port") from None


def _port_error(taken: PortInUse, setting: str) -> InfrastructureError:
    """As a service's port in use is said (shared/listening.py): a setting to correct."""
    return InfrastructureError(
        f"the embedded {taken.server} cannot listen on {host_port(taken.host, taken.port)} "
        f"(address already in use); stop what holds it or set {setting_variable(setting)}",
        EXIT_USAGE,
    )


def stop_servers(broker: EmbeddedTansu | None, postgres: EmbeddedPostgres | None) -> None:
    """Stop the broker and PostgreSQL together, each only if this process started it: the
    broker is always ours (``stop`` ends only its own process); a PostgreSQL ``start`` found
    running is another process's, and ``stop`` leaves it alone."""
    stopping_broker = None
    if broker is not None:
        stopping_broker = threading.Thread(
            target=broker.stop, kwargs={"grace": BROKER_STOP_GRACE_SECONDS}, daemon=True
        )
        stopping_broker.start()
    if postgres is not None:
        postgres.stop()
    if stopping_broker is not None:
        stopping_broker.join()
