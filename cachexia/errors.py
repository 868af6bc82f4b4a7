"""Errors the `cachexia` command reports as one line (no traceback), with its exit status."""

from __future__ import annotations

# exit statuses, as argparse and the settings check use them: 1 a failure, 2 a setting to correct
EXIT_FAILURE = 1
EXIT_USAGE = 2


class InfrastructureError(Exception):
    """PostgreSQL or Kafka cannot be used, or a service cannot open its port: ``str()`` is
    the line for the operator."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
