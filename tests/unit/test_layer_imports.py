"""Dependencies point inward: a service's domain and service layer load no driver.

Each module of ``services/*/domain`` and ``services/*/service_layer`` (and the shared modules
they are built on) is imported in a fresh interpreter, which must then hold none of the
database driver, the Kafka clients or the web framework: those belong to the adapters, the
entrypoints and the composition root (``bootstrap.py``). A module that imports one, even
through a shared helper, fails here with the chain that loaded it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = ("asyncpg", "aiokafka", "faust", "aiohttp")
# the driver-free shared modules the inner layers are built on
SHARED = (
    "shared.contracts.envelope",
    "shared.errors",
    "shared.messaging.handling",
    "shared.subject_handlers",
    "shared.subject_access",
)
# Modules that may load a driver, with the reason. None: keep it so.
EXEMPT: dict[str, str] = {}

# Imports the module, then names each driver loaded and the chain of the platform's own
# modules that loaded it (the innermost frames of the import, outermost last).
PROBE = """
import importlib, json, sys, traceback
DRIVERS = {drivers!r}
chains = {{}}
class Watch:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in DRIVERS and top not in chains:
            chains[top] = [
                f"{{f.filename.removeprefix({root!r})}}:{{f.lineno}}"
                for f in traceback.extract_stack()
                if f.filename.startswith({root!r})
            ]
        return None
sys.meta_path.insert(0, Watch())
importlib.import_module({module!r})
loaded = {{d: chains.get(d, []) for d in DRIVERS if d in sys.modules}}
print(json.dumps(loaded))
"""


def inner_modules() -> list[str]:
    found = []
    for layer in ("domain", "service_layer"):
        for path in sorted(ROOT.glob(f"services/*/{layer}/**/*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


MODULES = [*inner_modules(), *SHARED]


def test_every_inner_layer_is_probed() -> None:
    assert "services.lab_ingestion.service_layer.ingest" in MODULES
    assert "services.crp_monitor.service_layer.handlers" in MODULES
    assert "services.crp_monitor.domain.model" in MODULES
    assert set(EXEMPT) <= set(MODULES), "an exemption names no module probed"


@pytest.mark.parametrize("module", [m for m in MODULES if m not in EXEMPT])
def test_the_module_loads_no_driver(module: str) -> None:
    probe = PROBE.format(drivers=DRIVERS, root=f"{ROOT}/", module=module)
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,  # the return code is asserted with its stderr
    )
    assert done.returncode == 0, done.stderr
    loaded: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    assert not loaded, f"{module} loads {', '.join(loaded)}: " + "; ".join(
        f"{driver} <- {' <- '.join(reversed(chain))}" for driver, chain in loaded.items()
    )
