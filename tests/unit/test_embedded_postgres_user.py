"""The embedded cluster's system user: created once, even by processes starting side by side."""

from __future__ import annotations

import pwd
import subprocess
from typing import Any

import pytest

from shared.embedded import system_user


class Users:
    """A user database that another process may fill between a look-up and a useradd."""

    def __init__(self, *, exists: bool, created_by_another: bool, useradd_fails: bool) -> None:
        self.exists = exists
        self.created_by_another = created_by_another
        self.useradd_fails = useradd_fails
        self.useradds = 0

    def getpwnam(self, name: str) -> object:
        if not self.exists:
            raise KeyError(name)
        return object()

    def run(self, args: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        assert args[0] == "useradd"
        self.useradds += 1
        if self.created_by_another:
            self.exists = True
        if self.useradd_fails:
            return subprocess.CompletedProcess(args, 9, "", "useradd: user exists")
        self.exists = True
        return subprocess.CompletedProcess(args, 0, "", "")


def users(monkeypatch: pytest.MonkeyPatch, **kwargs: bool) -> Users:
    fake = Users(**kwargs)
    monkeypatch.setattr(pwd, "getpwnam", fake.getpwnam)
    monkeypatch.setattr(subprocess, "run", fake.run)
    return fake


def test_an_existing_user_is_not_created_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = users(monkeypatch, exists=True, created_by_another=False, useradd_fails=False)
    system_user.ensure_system_user()
    assert fake.useradds == 0


def test_a_missing_user_is_created(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = users(monkeypatch, exists=False, created_by_another=False, useradd_fails=False)
    system_user.ensure_system_user()
    assert fake.useradds == 1 and fake.exists


def test_a_user_another_process_created_meanwhile_is_no_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = users(monkeypatch, exists=False, created_by_another=True, useradd_fails=True)
    system_user.ensure_system_user()
    assert fake.useradds == 1


def test_a_user_that_cannot_be_created_is_said_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    users(monkeypatch, exists=False, created_by_another=False, useradd_fails=True)
    with pytest.raises(RuntimeError, match=r"cannot create the system user .*user exists"):
        system_user.ensure_system_user()
