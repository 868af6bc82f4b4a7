"""Who calls: a bearer token's role and what it is bound to. Driver-free, so that the inner
layers can reason about callers (``shared.subject_access``); ``shared.auth`` resolves tokens
to these."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    LAB = "lab"
    SITE = "site"
    SAFETY = "safety"
    UNBLINDED = "unblinded"
    OPS = "ops"


@dataclass(frozen=True)
class Principal:
    token_id: uuid.UUID
    name: str
    role: Role
    # the senders (application^facility) a lab token may deliver as; None: any
    senders: frozenset[str] | None = None
    # the site whose subjects a site token reads (shared.subject_access); None for the other
    # roles, and for a site token created before tokens named their site: it reads none
    site: str | None = None
