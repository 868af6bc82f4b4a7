"""What every redaction of a rejected payload shares (PROTOCOL section 6); FHIR payloads
are redacted in ``fhir_redaction``, the platform's JSON format in ``json_parser``.

A rejected input is kept for inspection and replay, but never with a person's identity:
the hospital identifier is replaced by its keyed hash and demographics are dropped, and
every removed value (names, reference displays, birth dates, phones, identifiers) becomes a
secret: any copy of it found in another string of the payload (a note, a narrative, a
message id) is replaced too, whatever its case. Every redaction is best effort on malformed
input and never raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

REDACTED = "[redacted]"
_MIN_SECRET = 3
# name parts that identify nobody; a whole display is a secret all the same
_NOT_A_NAME = frozenset({"patient", "unknown", "anonymous", "test", "the", "and", "mrs", "von"})
_NAME_PART = re.compile(r"[^\s,;:/()\[\]\"]+")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def copy_json(node: object) -> Any:
    """A deep copy of a JSON-like tree; values that are not JSON scalars become ``None``."""
    if isinstance(node, dict):
        return {key: copy_json(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [copy_json(value) for value in node]
    if node is None or isinstance(node, str | int | float | Decimal):
        return node
    return None


def scrub_secrets(node: Any, secrets: Mapping[str, str]) -> Any:
    """Replace every occurrence (any case) of a secret of 3+ characters inside any string.

    The secrets are matched by one regular expression shaped as a trie, so the time per
    character does not grow with their number. A pathological set of secrets raises
    ``RecursionError``, on which the callers keep nothing.
    """
    found = [s for s in secrets if len(s) >= _MIN_SECRET]
    if not found:
        return node
    # a hash already in the text is matched as itself, so that no name is found inside it
    kept = [r for r in set(secrets.values()) if r != REDACTED and len(r) >= _MIN_SECRET]
    replacements = {r.lower(): r for r in kept}
    for secret in found:
        replacements.setdefault(secret.lower(), secrets[secret])
    pattern = re.compile(_trie_pattern(replacements), re.IGNORECASE)
    keep = set(secrets.values())

    def replace(match: re.Match[str]) -> str:
        return replacements.get(match.group(0).lower(), REDACTED)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, str) and value not in keep:
            return pattern.sub(replace, value)
        return value

    return walk(node)


_END = ""  # marks the end of a word in a trie node


def _trie_pattern(words: Iterable[str]) -> str:
    """A regular expression matching any of ``words``, the longest where several match."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[_END] = {}
    return _node_pattern(trie)


def _node_pattern(node: dict[str, Any]) -> str:
    branches = []
    for first in sorted(c for c in node if c != _END):
        text, child = re.escape(first), node[first]
        while len(child) == 1 and _END not in child:  # a run without a choice: one literal
            ((char, child),) = child.items()
            text += re.escape(char)
        branches.append(text + _node_pattern(child))
    if not branches:
        return ""
    if _END in node:  # a word may end here: the longer match is tried first (greedy)
        return f"(?:{'|'.join(branches)})?"
    return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"


class Secrets(dict[str, str]):
    """Removed text -> what replaces its other copies (a keyed hash or ``REDACTED``)."""

    def text(self, value: object) -> None:
        """A removed value; a date also in the other ways it is commonly written."""
        if not isinstance(value, str) or len(value.strip()) < _MIN_SECRET:
            return
        self.setdefault(value.strip(), REDACTED)
        date = _DATE.match(value.strip())
        if date:
            year, month, day = date.groups()
            for variant in (f"{year}{month}{day}", f"{day}.{month}.{year}",
                            f"{day}/{month}/{year}", f"{month}/{day}/{year}"):  # fmt: skip
                self.setdefault(variant, REDACTED)

    def name(self, value: object) -> None:
        """A removed name or display: the whole of it and each of its parts."""
        self.text(value)
        if isinstance(value, str):
            for part in _NAME_PART.findall(value):
                if len(part.strip(".'-")) >= _MIN_SECRET and part.lower() not in _NOT_A_NAME:
                    self.setdefault(part, REDACTED)

    def strings(self, node: object, *, as_name: bool) -> None:
        """Every string below a removed node."""
        if isinstance(node, dict):
            for value in node.values():
                self.strings(value, as_name=as_name)
        elif isinstance(node, list | tuple):
            for value in node:
                self.strings(value, as_name=as_name)
        elif as_name:
            self.name(node)
        else:
            self.text(node)

    def hashed(self, value: str, hash_identifier: Callable[[str], str]) -> str:
        if self.get(value, REDACTED) == REDACTED:
            self[value] = hash_identifier(value)
        return self[value]


def dump_json(value: Any) -> str:
    """A redacted copy as stored text (best effort: what cannot be written is not kept)."""
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError, RecursionError):
        return ""
