"""Regular expressions that find any of many literal strings in time independent of their
number (review 132).

An alternation of literals is tried one literal after the other at every position of the
text: the numbers of a resource holding 16,000 patients took 2 s a megabyte to find, and a
pattern compiled for each text searched made its redaction quadratic (31 s). Written as a
trie (``(?:M0(?:1|2)|X)``), each position costs at most the longest literal's length, and
the longest literal found at a position is the one matched, as when they are tried longest
first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

_END = ""  # a trie node's key marking the end of a literal


def literal_alternation(literals: Iterable[str]) -> str:
    """A pattern matching any of ``literals`` (none: never matching), the longest one at a
    position first. Nested as deep as the literals share prefixes at most."""
    trie: dict[str, dict] = {}  # type: ignore[type-arg]  # a recursive mapping
    for literal in literals:
        if not literal:
            continue
        node = trie
        for character in literal:
            node = node.setdefault(character, {})
        node[_END] = {}
    return _pattern(trie) if trie else "(?!)"


def _pattern(trie: dict[str, dict]) -> str:  # type: ignore[type-arg]  # recursive
    """The pattern of a trie node's continuations (an explicit stack: deep tries are no
    recursion). Each node is written after its children, a run of nodes of one child each
    as one literal; a node ending a literal makes its continuation optional (greedy: the
    longest first)."""
    done: dict[int, str] = {}
    stack: list[tuple[dict[str, dict], bool]] = [(trie, False)]  # type: ignore[type-arg]
    while stack:
        node, expanded = stack.pop()
        if not expanded:
            stack.append((node, True))
            stack.extend((_chain(child)[1], False) for c, child in node.items() if c != _END)
            continue
        branches = []
        for character, child in sorted(node.items()):
            if character != _END:
                run, last = _chain(child)
                branches.append(re.escape(character + run) + done.pop(id(last)))
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        if not branches:
            body = ""
        elif _END in node:
            body = f"(?:{body})?"
        done[id(node)] = body
    return done[id(trie)]


def _chain(node: dict[str, dict]) -> tuple[str, dict[str, dict]]:  # type: ignore[type-arg]
    """The characters of a run of nodes of one child each, ending no literal, from
    ``node``, and the node after them."""
    run = []
    while len(node) == 1 and _END not in node:
        ((character, node),) = node.items()
        run.append(character)
    return "".join(run), node


def literal_pattern(literals: Iterable[str], flags: int = 0, around: str = "{}") -> re.Pattern[str]:
    """``literal_alternation`` compiled (in ``around``: ``(?=({}))`` finds one at every
    position); a trie nested too deep for the compiler (literals each a prefix of the next,
    past a thousand: never a laboratory's) as the plain alternation, longest first."""
    literals = list(literals)
    try:
        return re.compile(around.format(literal_alternation(literals)), flags)
    except RecursionError:
        ordered = sorted({literal for literal in literals if literal}, key=len, reverse=True)
        return re.compile(around.format("|".join(map(re.escape, ordered)) or "(?!)"), flags)


def literal_spans(literals: Iterable[str]) -> Callable[[str], Iterator[tuple[int, int]]]:
    """Where ``literals`` of few lengths (keyed hashes) are in a text, left to right and not
    overlapping, the longest first at a position (an alternation's ``finditer``): found in
    the runs of their characters, each window a set lookup. No pattern to compile: thousands
    of 64-digit hashes made a trie of a quarter megabyte, a second to compile."""
    known = {literal for literal in literals if literal}
    if not known:
        return lambda _: iter(())
    lengths = sorted({len(literal) for literal in known}, reverse=True)
    characters = "".join(sorted({c for literal in known for c in literal}))
    runs = re.compile(f"[{re.escape(characters)}]{{{lengths[-1]},}}")

    def spans(text: str) -> Iterator[tuple[int, int]]:
        for run in runs.finditer(text):
            start, end = run.span()
            position = start
            while position + lengths[-1] <= end:
                length = next((n for n in lengths if text[position : position + n] in known), 0)
                if length and position + length <= end:
                    yield position, position + length
                    position += length
                else:
                    position += 1

    return spans
