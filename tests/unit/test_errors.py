"""error_kind: what is written of an exception where its text must not go (shared/errors.py)."""

from __future__ import annotations

import errno

import asyncpg

from shared.errors import error_kind


def test_a_database_error_is_its_type_and_sqlstate_never_its_text() -> None:
    error = asyncpg.exceptions.UniqueViolationError.new(
        {"S": "ERROR", "C": "23505", "M": "duplicate (MRN-1)", "D": "Key (mrn)=(MRN-1) exists."}
    )
    assert error_kind(error) == "UniqueViolationError (SQLSTATE 23505)"


def test_an_os_error_is_its_type_and_errno() -> None:
    error = ConnectionRefusedError(errno.ECONNREFUSED, "refused by host-of-patient-MRN-1")
    assert error_kind(error) == f"ConnectionRefusedError (errno {errno.ECONNREFUSED})"


def test_any_other_error_is_its_type() -> None:
    assert error_kind(ValueError("MRN-1 is not enrolled")) == "ValueError"
    assert error_kind(OSError("no errno")) == "OSError"


def test_a_sqlstate_that_is_no_code_is_not_written() -> None:
    class Odd(Exception):
        sqlstate = "MRN-1 Smith"

    assert error_kind(Odd()) == "Odd"
