"""Review 69: an empty CACHEXIA_DATA_DIR is taken as the current directory.

README.md line 1042: "an invalid value stops the process at once and names the variable";
line 1054: `CACHEXIA_DATA_DIR` | `.data` | "embedded data, faust state and logs; one
`cachexia up` at a time (`platform.lock`)".

`CACHEXIA_DATA_DIR=` (an unset placeholder in a `.env` or unit file, `${DATA_DIR}` expanded
to nothing) is read as `Path("")`, i.e. `.`: `cachexia up` then creates a second, empty
PostgreSQL cluster in `./postgres`, a new patient-matching key in `./secrets` and its lock in
`./platform.lock`, on the same ports, instead of using `.data` or refusing. The laboratories'
results then go to a database (and key) other than the trial's, and `make clean` no longer
removes what it wrote. An empty value must be refused (or mean the default `.data`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import PlatformSettings


def test_an_empty_data_dir_is_refused_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHEXIA_DATA_DIR", "")
    try:
        settings = PlatformSettings()
    except ValidationError:
        return
    assert settings.data_dir == Path(".data"), settings.data_dir
