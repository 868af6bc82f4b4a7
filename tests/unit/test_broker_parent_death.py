"""The broker's parent-death prefix (``ending_with_starter``) is used only where it works:
a `setpriv` that cannot set the signal (a sandbox refusing prctl) must not keep the broker
from starting."""

from __future__ import annotations

import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.embedded import tansu


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    tansu.ending_with_starter.cache_clear()
    yield
    tansu.ending_with_starter.cache_clear()


def _fake_setpriv(tmp_path: Path, exit_code: int) -> str:
    path = tmp_path / "setpriv"
    path.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_a_setpriv_that_works_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setpriv = _fake_setpriv(tmp_path, 0)
    monkeypatch.setattr(shutil, "which", lambda name: setpriv)
    assert tansu.ending_with_starter() == (setpriv, "--pdeathsig", "TERM", "--")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_a_setpriv_that_fails_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setpriv = _fake_setpriv(tmp_path, 1)
    monkeypatch.setattr(shutil, "which", lambda name: setpriv)
    assert tansu.ending_with_starter() == ()


def test_without_setpriv_nothing_is_prefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert tansu.ending_with_starter() == ()
