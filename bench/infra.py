"""Embedded PostgreSQL and broker for one benchmark run, on free ports in a temporary folder."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.tansu import EmbeddedTansu


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Infrastructure:
    data: Path
    postgres: EmbeddedPostgres
    broker: EmbeddedTansu


@contextmanager
def embedded_infrastructure() -> Iterator[Infrastructure]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
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
