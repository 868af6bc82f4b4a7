"""CRP series of one subject (pure domain: no I/O)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CrpMeasurement:
    """One CRP value in mg/L as reported by a lab (final or corrected)."""

    result_id: uuid.UUID
    subject_id: str
    value_mg_l: float
    collected_at: datetime
    status: str
    supersedes_result_id: uuid.UUID | None = None
    cancelled: bool = False


def current_series(measurements: list[CrpMeasurement]) -> list[CrpMeasurement]:
    """The values that stand: not cancelled and not superseded by a correction, by time."""
    superseded = {m.supersedes_result_id for m in measurements if m.supersedes_result_id}
    standing = [m for m in measurements if not m.cancelled and m.result_id not in superseded]
    return sorted(standing, key=lambda m: (m.collected_at, str(m.result_id)))
