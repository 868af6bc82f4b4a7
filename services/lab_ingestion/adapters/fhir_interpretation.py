"""What an interpretation (an Observation's or a component's abnormal flag) keeps in a
redacted FHIR copy (``fhir_redaction``): flag codes only, any other text masked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.lab_ingestion.adapters.redaction import is_flag_code, kept_code

FLAG_TEXTS = frozenset({"code", "display", "text"})  # of an interpretation and its codings


def kept_flag(concept: dict[Any, Any], node: Callable[[object, object], Any]) -> dict[Any, Any]:
    """An interpretation (a CodeableConcept) and its codings: their code, display and
    text kept only when a flag code (``is_flag_code``: ``H``, not ``High`` nor a name),
    else ``REDACTED`` (``kept_code``)."""
    out = {}
    for name, value in concept.items():
        if name in FLAG_TEXTS:
            out[name] = kept_code(value, is_flag_code)
        elif name == "coding" and isinstance(value, dict | list):
            codings = [value] if isinstance(value, dict) else value
            flags = [kept_flag(c, node) if isinstance(c, dict) else node(c, None) for c in codings]
            out[name] = flags if isinstance(value, list) else flags[0]
        else:
            out[name] = node(value, name)
    return out
