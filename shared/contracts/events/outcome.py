"""Payload of `outcome.results.v1` (produced by outcome-scoring)."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload


class OutcomeScored(EventPayload):
    """The week-8 primary endpoint of one subject (blinded: no arm)."""

    event_type = "OutcomeScored"

    scored_at: AwareDatetime
    lbm_baseline_kg: float | None = Field(default=None, ge=0)
    lbm_week8_kg: float | None = Field(default=None, ge=0)
    lbm_change_pct: float | None = None
    handgrip_baseline_kg: float | None = Field(default=None, ge=0)
    handgrip_week8_kg: float | None = Field(default=None, ge=0)
    handgrip_change_kg: float | None = None
    responder: bool
    in_per_protocol: bool
    faact_score: float | None = Field(default=None, ge=0, le=48)
    protocol_version: str = Field(max_length=32)
