"""Ports picked for tests and benchmarks: never the same one twice in one process."""

from __future__ import annotations

import socket

from bench.infra import free_port


def test_ports_picked_before_any_is_bound_are_all_different() -> None:
    """A service's settings take six ports at once; two alike made its listeners collide."""
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)


def test_a_picked_port_can_be_bound() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
