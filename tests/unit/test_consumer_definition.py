"""How long a consumer's batches wait to fill (shared/service.py, shared/subjects.py)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.service import ConsumerDefinition
from shared.subjects import SUBJECT_DIRECTORY_WINDOW_SECONDS, subject_directory_consumer


def _consumer(window: float | None) -> ConsumerDefinition:
    no_unit_of_work: Any = None  # none is built here
    return ConsumerDefinition("c", ["t"], {}, no_unit_of_work, batch_window_seconds=window)


def test_a_consumer_without_its_own_window_takes_the_platform_s() -> None:
    assert _consumer(None).window_seconds(0.02) == 0.02
    assert _consumer(0.5).window_seconds(0.02) == 0.5


def test_the_subject_directory_waits_longer_than_the_platform_default() -> None:
    """Enrolments are rare: its idle agent should not wake 50 times a second."""
    pool: Any = object()
    consumer = subject_directory_consumer("lab-ingestion", pool)
    assert consumer.batch_window_seconds == SUBJECT_DIRECTORY_WINDOW_SECONDS
    assert consumer.window_seconds(0.02) == SUBJECT_DIRECTORY_WINDOW_SECONDS >= 0.2


@pytest.mark.parametrize("window", [0.0, -1.0, 6.0])
def test_a_window_faust_would_misread_is_refused(window: float) -> None:
    with pytest.raises(ValueError, match="batch window"):
        _consumer(window)
