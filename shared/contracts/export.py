"""Generate the JSON Schemas of the envelope and every payload into a folder.

Run ``python -m shared.contracts.export schemas`` (``make schemas``); a test fails when the
committed files drift from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shared.contracts.envelope import Envelope
from shared.contracts.topics import TOPICS


def render_schemas() -> dict[str, str]:
    """Relative file name -> JSON text, for the envelope and every topic's payloads."""
    files: dict[str, str] = {"envelope.schema.json": _dump(Envelope.model_json_schema())}
    for spec in TOPICS.values():
        for model in spec.payloads:
            schema: dict[str, Any] = model.model_json_schema()
            schema["$id"] = f"{spec.name}/{model.event_type}.v{model.schema_version}"
            schema["x-topic"] = spec.name
            schema["x-unblinded"] = spec.unblinded
            name = f"{spec.name}/{model.event_type}.v{model.schema_version}.schema.json"
            files[name] = _dump(schema)
    return files


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    written = []
    for name, text in render_schemas().items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")
    for path in write_schemas(target):
        sys.stdout.write(f"{path}\n")
