"""Fixtures of lab-ingestion's integration tests (the platform's: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.settings import PlatformSettings
from tests.integration.test_lab_ingestion import Lab, running_lab


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    """lab-ingestion running in-process on this test's database, its patient enrolled."""
    async with running_lab(settings, database) as lab:
        yield lab
