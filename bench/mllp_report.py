"""What the MLLP benchmark measured, and how it prints it (bench/ingest_mllp.py)."""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field

from bench.infra import Scheduling

BARE = "bare parse+ACK server (reference)"
SERVICE = "lab-ingestion (durable ACK)"
DURABLE = "minimal durable server"  # diagnostic: bench/durable_mllp_server.py
STALL_SECONDS = 0.025  # no ACK at all for this long, with 8 messages outstanding, is a stall


@dataclass
class Pushed:
    elapsed: float
    latencies: list[float]
    errors: int
    stalled: float  # seconds in which no connection received an ACK for over STALL_SECONDS
    sent: int  # messages sent (each waited for its ACK): what a rate is of


def stalled_seconds(acked_at: list[float]) -> float:
    """Total length of the gaps between consecutive ACKs (on any connection) longer than
    STALL_SECONDS: time in which the server answered nobody."""
    return sum(
        gap for gap in (b - a for a, b in itertools.pairwise(acked_at))
        if gap > STALL_SECONDS
    )  # fmt: skip


def report(name: str, n: int, elapsed: float, latencies: list[float], errors: int) -> float:
    rate = n / elapsed
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"{name:<34} {rate:8.0f} msg/s   ACK p50 {quantiles[49] * 1000:6.2f} ms"
        f"   p99 {quantiles[98] * 1000:6.2f} ms   non-AA {errors}"
    )
    return rate


@dataclass
class Tally:
    """What one server did over all rounds."""

    elapsed: float = 0.0
    sent: int = 0  # messages, over all rounds
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    cpu: float = 0.0
    stalled: float = 0.0
    rates: list[float] = field(default_factory=list)
    loop_on_cpu: float = 0.0  # the server's event-loop thread
    client_waiting: float = 0.0  # the load client, in the run queue
    postgres_waiting: float = 0.0  # PostgreSQL's processes, in the run queue

    def add(self, pushed: Pushed, cpu: float) -> None:
        """A round: its rate is of the messages it sent (not of those asked for)."""
        self.elapsed += pushed.elapsed
        self.sent += pushed.sent
        self.latencies += pushed.latencies
        self.errors += pushed.errors
        self.stalled += pushed.stalled
        self.cpu += cpu
        self.rates.append(pushed.sent / pushed.elapsed)

    def add_scheduling(self, loop: Scheduling, client: Scheduling, postgres: Scheduling) -> None:
        self.loop_on_cpu += loop.on_cpu
        self.client_waiting += client.waiting
        self.postgres_waiting += postgres.waiting


def summarise(tallies: dict[str, Tally], before: dict[str, float], after: dict[str, float]) -> None:
    """Every figure per message sent: each server was sent as many (``Tally.sent``)."""
    (n,) = {tally.sent for tally in tallies.values()}
    reference = report(
        BARE, n, tallies[BARE].elapsed, tallies[BARE].latencies, tallies[BARE].errors
    )
    measured = report(
        SERVICE, n, tallies[SERVICE].elapsed, tallies[SERVICE].latencies, tallies[SERVICE].errors
    )
    ratios = [s / b for s, b in zip(tallies[SERVICE].rates, tallies[BARE].rates, strict=True)]
    print("per-round ratios: " + ", ".join(f"{r:.0%}" for r in ratios))
    used = ", ".join(f"{k} {after[k] - before[k]:.1f} s" for k in after)
    print(f"CPU used during all rounds (all servers' runs): {used}")
    print(
        f"server CPU per message: bare {tallies[BARE].cpu / n * 1000:.3f} ms, "
        f"lab-ingestion {tallies[SERVICE].cpu / n * 1000:.3f} ms"
    )
    print(
        f"ratio {measured / reference:.0%} overall, median round "
        f"{statistics.median(ratios):.0%}  (bars: >= 1,500 msg/s and >= 60 %)"
    )
    print_stalls(n, tallies[BARE], tallies[SERVICE])
    print_scheduling(n, tallies[BARE], tallies[SERVICE])
    print_durable_reference(n, reference, measured, tallies[DURABLE])


def print_durable_reference(n: int, bare_rate: float, service_rate: float, durable: Tally) -> None:
    """What the least durable server (parse, one row per message group-committed, ACK) reaches
    on this machine: the cost of a durable ACK itself, apart from lab-ingestion's own work."""
    rate = report(DURABLE, n, durable.elapsed, durable.latencies, durable.errors)
    print(
        f"diagnostic: the minimal durable server reached {rate / bare_rate:.0%} of the bare "
        f"server, lab-ingestion {service_rate / rate:.0%} of the minimal durable server "
        f"(CPU per message {durable.cpu / n * 1000:.3f} ms; stalls {durable.stalled:.2f} s "
        f"of {durable.elapsed:.1f} s)"
    )


def print_stalls(n: int, bare: Tally, service: Tally) -> None:
    """Stalls: stretches in which a server answered nobody for over STALL_SECONDS. A durable
    ACK waits for PostgreSQL's WAL flush, so a storage hiccup stops every ACK at once, which
    the bare server never waits for; the rate outside stalls shows what is left."""
    print(
        f"stalls (no ACK for > {STALL_SECONDS * 1000:.0f} ms): bare {bare.stalled:.2f} s of "
        f"{bare.elapsed:.1f} s, lab-ingestion {service.stalled:.2f} s of {service.elapsed:.1f} s"
    )
    outside = [n / (t.elapsed - t.stalled) for t in (bare, service)]
    print(
        f"outside stalls (a diagnostic, not the bar): bare {outside[0]:.0f} msg/s, "
        f"lab-ingestion {outside[1]:.0f} msg/s, ratio {outside[1] / outside[0]:.0%}"
    )


def print_scheduling(n: int, bare: Tally, service: Tally) -> None:
    """Where the time went (a diagnostic): how much of the run each server's event-loop
    thread was on a CPU (the rest it was idle, waiting for something), and how long the
    client and PostgreSQL waited for a CPU per message (2 cores shared by all of them)."""
    print(
        f"event-loop thread on a CPU: bare {bare.loop_on_cpu / bare.elapsed:.0%}, "
        f"lab-ingestion {service.loop_on_cpu / service.elapsed:.0%} of the run"
    )
    print(
        "waiting for a CPU per message: client "
        f"{bare.client_waiting / n * 1000:.3f} ms (bare) / "
        f"{service.client_waiting / n * 1000:.3f} ms (lab-ingestion), PostgreSQL "
        f"{service.postgres_waiting / n * 1000:.3f} ms (lab-ingestion)"
    )
