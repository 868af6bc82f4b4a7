"""Which database errors are transient (shared/db/faults.py ``TRANSIENT_DB_ERRORS``).

A transient error is retried: lab-ingestion's group committer retries the batch within its
deadline and then answers "nothing stored, resend"; a consumer retries the batch and never
dead-letters it. Any other error is taken for the message's fault: lab-ingestion keeps the
message as ``processing-failed`` and answers "do not resend", a consumer dead-letters it. So
an error of the environment wrongly left out loses a result, and an error of the data
wrongly put in blocks a partition or a sender forever.

Review 145: a grant revoked (42501), a table a migration renamed (42P01), an internal error or
corruption (XX000, XX001) or a feature not supported (0A000) were kept as the message's own
failure (AE "kept and will be replayed, do not resend"), while the next message succeeded:
no datum causes them, so they are the storage's.
"""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.faults import STORAGE_SQLSTATE_CLASSES, STORAGE_SQLSTATES
from shared.db.pool import TRANSIENT_DB_ERRORS


def _error(sqlstate: str) -> asyncpg.PostgresError:
    """The exception asyncpg raises for a server error with this SQLSTATE."""
    error = asyncpg.PostgresError.new({"C": sqlstate, "M": "server says no", "S": "ERROR"})
    assert error.sqlstate == sqlstate
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
        # review 145: faults of the deployment, which no parameter datum can cause
        "42501",  # insufficient_privilege: a grant revoked
        "42P01",  # undefined_table: a migration half applied, a table renamed
        "42703",  # undefined_column
        "42883",  # undefined_function
        "42601",  # syntax_error
        "42000",  # syntax_error_or_access_rule_violation
        "0A000",  # feature_not_supported (a cached plan a migration changed too)
        "XX000",  # internal_error
        "XX001",  # data_corrupted: an operator's
        "XX002",  # index_corrupted
        "3F000",  # invalid_schema_name
        "3D000",  # invalid_catalog_name: the database is gone
        "28000",  # invalid_authorization_specification
        "28P01",  # invalid_password
        "0P000",  # invalid_role_specification
        "26000",  # invalid_sql_statement_name: a prepared statement gone (a pooler)
        "40003",  # statement_completion_unknown
        "72000",  # snapshot_too_old
        "F0000",  # config_file_error
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
        "23502",  # not_null_violation
        "23514",  # check_violation
        "22003",  # numeric_value_out_of_range
        "22001",  # string_data_right_truncation
        "21000",  # cardinality_violation
        "P0001",  # raise_exception: a trigger's or function's RAISE
        "40002",  # transaction_integrity_constraint_violation: a constraint at commit
        "54000",  # program_limit_exceeded: a statement too large
        "55000",  # object_not_in_prerequisite_state: a bug
        "55006",  # object_in_use
        "25P02",  # in_failed_sql_transaction: a bug of ours
        "25001",  # active_sql_transaction
        "LI409",  # the batch guard's own code (lab-ingestion turns it into StaleBatch)
    ],
)
def test_an_error_of_the_work_or_the_data_is_not_retried(sqlstate: str) -> None:
    assert not isinstance(_error(sqlstate), TRANSIENT_DB_ERRORS), f"{sqlstate} is retried"


def test_an_application_error_is_not_retried() -> None:
    assert not isinstance(ValueError("bad value"), TRANSIENT_DB_ERRORS)
    assert not isinstance(RuntimeError("bug"), TRANSIENT_DB_ERRORS)


def test_every_code_asyncpg_knows_is_classed_by_its_sqlstate_class() -> None:
    """The tuple names asyncpg's exception classes; it must say what the SQLSTATE classes
    of ``STORAGE_SQLSTATE_CLASSES`` (and the single codes of ``STORAGE_SQLSTATES``) say,
    for every code PostgreSQL defines (asyncpg's map of them)."""
    known = type(asyncpg.PostgresError)._message_map  # asyncpg's code table
    assert len(known) > 200
    wrong = sorted(
        code
        for code, error_class in known.items()
        if issubclass(error_class, TRANSIENT_DB_ERRORS)
        != (code[:2] in STORAGE_SQLSTATE_CLASSES or code in STORAGE_SQLSTATES)
    )
    assert wrong == []
