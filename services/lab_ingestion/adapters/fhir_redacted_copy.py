"""The redacted copy of a FHIR body (``fhir_redaction``), made once and only when a
rejection needs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.lab_ingestion.adapters.fhir_redaction import redact_fhir
from services.lab_ingestion.adapters.redaction import dump_json


class RedactedFhir:
    """The redacted copy of a FHIR body as JSON text, made once and only when a rejection
    needs it: the whole of it, or one Bundle entry."""

    def __init__(self, body: dict[str, Any], hash_identifier: Callable[[str], str]) -> None:
        self._body = body
        self._hash = hash_identifier
        self._redacted: dict[str, Any] | None = None

    def _value(self) -> dict[str, Any]:
        if self._redacted is None:
            self._redacted = redact_fhir(self._body, self._hash)
        return self._redacted

    def whole(self) -> str:
        return dump_json(self._value())

    def entry(self, index: int) -> str:
        """One entry, redacted with what the whole Bundle tells (a Patient's name in one
        entry is removed from the notes of another)."""
        entries = self._value().get("entry")
        if isinstance(entries, list) and 0 <= index < len(entries):
            return dump_json(entries[index])
        return ""
