"""Ports picked for tests and benchmarks: never the same one twice in one process."""

from __future__ import annotations

import socket

import pytest

from bench import infra
from bench.infra import free_port


def test_ports_picked_before_any_is_bound_are_all_different() -> None:
    """A service's settings take six ports at once; two alike made its listeners collide."""
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)


def test_a_picked_port_can_be_bound() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))


def test_processes_given_different_slices_never_pick_the_same_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The suite's workers each pick from their own slice; one remembers only its own."""
    monkeypatch.setattr(infra, "_ephemeral_low", lambda: 32768)
    picked: list[set[int]] = []
    for share in range(3):
        monkeypatch.setattr(infra, "_SHARE", (0, 1))
        infra.use_port_range(share, 3)
        monkeypatch.setattr(infra, "_HANDED_OUT", set())  # another process: its own memory
        picked.append({infra.free_port() for _ in range(300)})
    assert not picked[0] & picked[1]
    assert not picked[1] & picked[2]
    assert not picked[0] & picked[2]
    assert max(picked[0]) < min(picked[1]) and max(picked[1]) < min(picked[2])


def test_a_slice_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="share 3 of 3"):
        infra.use_port_range(3, 3)
