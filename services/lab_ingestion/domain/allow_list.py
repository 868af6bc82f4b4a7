"""The HL7 sender allow-list as operators see it (pure data): a sender allowed, with its
settings; settings given or to forget; a lab token and the senders it may deliver as."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from services.lab_ingestion.domain.records import Sender


@dataclass(frozen=True)
class AllowedSender:
    application: str  # MSH-3
    facility: str  # MSH-4
    settings: Sender
    added_at: datetime


@dataclass(frozen=True)
class Cleared:
    """Settings to forget (their defaults apply again)."""

    time_zone: bool = False
    site_id: bool = False
    identifier_authority: bool = False


@dataclass(frozen=True)
class SettingsGiven:
    """A sender's settings as an operator gives them: one given replaces the one kept, one
    ``cleared`` is forgotten, any other is kept. The identifier authority's names: one
    authority's (HL7's namespace HOSP, FHIR's system urn:hosp), the first first."""

    time_zone: str | None = None
    site_id: str | None = None
    identifier_authority: tuple[str, ...] | None = None
    cleared: Cleared = Cleared()


class LabToken(NamedTuple):
    """A lab token in use (not revoked): its name, and the senders (``MSH-3^MSH-4``) it is
    bound to; None: bound to none, it delivers JSON results as any sender."""

    name: str
    senders: tuple[str, ...] | None
