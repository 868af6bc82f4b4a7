"""Which database errors are transient (shared/db/pool.py ``TRANSIENT_DB_ERRORS``).

A transient error is retried: lab-ingestion's group committer retries the batch within its
deadline and then answers "nothing stored, resend"; a consumer retries the batch and never
dead-letters it. Any other error is taken for the message's fault: lab-ingestion keeps the
message as ``processing-failed`` and answers "do not resend", a consumer dead-letters it. So
an error of the environment wrongly left out loses a result, and an error of the data
wrongly put in blocks a partition or a sender forever.
"""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.pool import TRANSIENT_DB_ERRORS


def _error(sqlstate: str) -> asyncpg.PostgresError:
    """The exception asyncpg raises for a server error with this SQLSTATE."""
    error = asyncpg.PostgresError.new({"C": sqlstate, "M": "server says no", "S": "ERROR"})
    assert error.sqlstate == sqlstate, f"asyncpg has no class for {sqlstate}"
    return error


def test_a_lock_timeout_is_transient() -> None:
    error = asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout")
    assert error.sqlstate == "55P03"
    assert isinstance(error, TRANSIENT_DB_ERRORS)


@pytest.mark.parametrize(
    "sqlstate",
    [
        "55P03",  # lock_not_available: lock_timeout passed, or NOWAIT
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "53000",  # insufficient_resources
        "53100",  # disk_full
        "53200",  # out_of_memory
        "53300",  # too_many_connections
        "53400",  # configuration_limit_exceeded
        "57000",  # operator_intervention
        "57014",  # query_canceled (statement_timeout)
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, recovering)
        "57P04",  # database_dropped
        "57P05",  # idle_session_timeout
        "58000",  # system_error
        "58030",  # io_error
        "08000",  # connection_exception
        "08001",  # sqlclient_unable_to_establish_sqlconnection
        "08003",  # connection_does_not_exist
        "08006",  # connection_failure
        "08007",  # transaction_resolution_unknown
        "25006",  # read_only_sql_transaction (fail-over to a replica)
        "25P03",  # idle_in_transaction_session_timeout
        "25P04",  # transaction_timeout
    ],
)
def test_an_error_of_the_environment_is_retried(sqlstate: str) -> None:
    assert isinstance(_error(sqlstate), TRANSIENT_DB_ERRORS), f"{sqlstate} is not retried"


@pytest.mark.parametrize(
    "sqlstate",
    [
        "23505",  # unique_violation: the data
        "23503",  # foreign_key_violation
        "22P02",  # invalid_text_representation
        "22021",  # character_not_in_repertoire (a NUL in a text)
        "42P01",  # undefined_table: our SQL or a migration missing
        "40002",  # transaction_integrity_constraint_violation: a constraint at commit
        "54000",  # program_limit_exceeded: a statement too large
        "55000",  # object_not_in_prerequisite_state: a bug
        "55006",  # object_in_use
        "25P02",  # in_failed_sql_transaction: a bug of ours
        "25001",  # active_sql_transaction
        "XX000",  # internal_error
        "XX001",  # data_corrupted: an operator's
    ],
)
def test_an_error_of_the_work_or_the_data_is_not_retried(sqlstate: str) -> None:
    assert not isinstance(_error(sqlstate), TRANSIENT_DB_ERRORS), f"{sqlstate} is retried"


def test_an_application_error_is_not_retried() -> None:
    assert not isinstance(ValueError("bad value"), TRANSIENT_DB_ERRORS)
    assert not isinstance(RuntimeError("bug"), TRANSIENT_DB_ERRORS)
