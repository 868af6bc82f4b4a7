"""Environment variables of the platform's prefix that name no setting: a misspelt name
(``CACHEXIA_EMBEDED_POSTGRES_PORT``) is otherwise ignored without a word, and its default
used (review 123). Each is named on standard error at start, with the nearest setting."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

PREFIX = "CACHEXIA_"
# set by `cachexia up` for the processes it starts (``cachexia.supervision``), not settings
SUPERVISOR_PID = "CACHEXIA_SUPERVISOR_PID"
PROCESS_VARIABLES = frozenset({SUPERVISOR_PID})
WARNING = "cachexia: warning: "


def setting_names(settings: type[BaseSettings]) -> frozenset[str]:
    """Every environment variable ``settings`` reads (upper case): the prefixed field
    names and their aliases."""
    names = {f"{PREFIX}{name}".upper() for name in settings.model_fields}
    for field in settings.model_fields.values():
        alias = field.validation_alias
        choices: Iterable[object] = alias.choices if isinstance(alias, AliasChoices) else [alias]
        names.update(choice.upper() for choice in choices if isinstance(choice, str))
    return frozenset(names)


def unknown_variables(
    environ: Mapping[str, str], settings: type[BaseSettings]
) -> list[tuple[str, str | None]]:
    """The prefixed variables of ``environ`` that ``settings`` does not read, each with the
    setting nearest its name (None when none is near), in the order of their names."""
    known = setting_names(settings)
    unknown = sorted(
        name for name in environ
        if name.upper().startswith(PREFIX)
        and name.upper() not in known and name.upper() not in PROCESS_VARIABLES
    )  # fmt: skip
    return [(name, _nearest(name.upper(), known)) for name in unknown]


def _nearest(name: str, known: frozenset[str]) -> str | None:
    """The known prefixed name nearest ``name``, compared without the prefix they share."""
    rests = {n.removeprefix(PREFIX): n for n in known if n.startswith(PREFIX)}
    close = difflib.get_close_matches(name.removeprefix(PREFIX), sorted(rests), n=1, cutoff=0.8)
    return rests[close[0]] if close else None


def unknown_variable_lines(environ: Mapping[str, str], settings: type[BaseSettings]) -> str:
    """One warning line per unknown variable (its value never shown), or nothing; nothing in
    a process `cachexia up` started, which has said them in its terminal once (its services'
    logs are JSON lines but for the one line a service that cannot start leaves)."""
    if SUPERVISOR_PID in environ:
        return ""
    lines = []
    for name, nearest in unknown_variables(environ, settings):
        hint = f" (did you mean {nearest}?)" if nearest else ""
        lines.append(f"{WARNING}{name} is no setting and is ignored{hint}\n")
    return "".join(lines)
