"""Start-up failures an operator meets are one line naming the address and the setting to
change, with exit status 2 (a setting to correct), never a traceback: a port in use (HTTP,
MLLP), a bind host that is not this machine's, a bind host that is no host at all. Real
`cachexia service` and `cachexia up` processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.infra import free_port
from shared.embedded.tansu import EmbeddedTansu
from tests.conftest import TEST_SUBJECT_HMAC_KEY

pytestmark = pytest.mark.integration

SERVICE_TIMEOUT_SECONDS = 60
_SERVICE_VARIABLES = ("LAB_INGESTION", "CRP_MONITOR", "DOSE_DECISION", "SAFETY_ALERTING",
                      "OUTCOME_SCORING")  # fmt: skip


@pytest.fixture
def env(database: str, broker: EmbeddedTansu, tmp_path: Path) -> dict[str, str]:
    """Real infrastructure, and ports of their own for every listener."""
    return {
        "DATABASE_URL": database,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "CACHEXIA_DATA_DIR": str(tmp_path),
        "CACHEXIA_SUBJECT_HMAC_KEY": TEST_SUBJECT_HMAC_KEY,
        "CACHEXIA_SHUTDOWN_DEADLINE_SECONDS": "3",
        "CACHEXIA_LAB_INGESTION_MLLP_PORT": str(free_port()),
        **{f"CACHEXIA_{name}_HTTP_PORT": str(free_port()) for name in _SERVICE_VARIABLES},
    }


def _environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` over this process's environment, without the settings of the shell."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CACHEXIA_")
        and name not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    return {**inherited, **env}


def _service(name: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run `cachexia service NAME` to its end: exit status, stdout, stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "cachexia.cli", "service", name],
        env=_environment(env), capture_output=True, text=True, check=False,
        timeout=SERVICE_TIMEOUT_SECONDS,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def _log_records(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("lab-ingestion", "CACHEXIA_LAB_INGESTION_HTTP_PORT"),
        ("crp-monitor", "CACHEXIA_CRP_MONITOR_HTTP_PORT"),
    ],
)
def test_an_http_port_in_use_is_one_line_naming_the_address_and_its_setting(
    env: dict[str, str], held_port: int, service: str, variable: str
) -> None:
    status, stdout, stderr = _service(service, {**env, variable: str(held_port)})
    assert status == 2, stderr[-1500:]
    assert "Traceback" not in stdout + stderr, stderr[-1500:]
    assert stderr.splitlines()[-1] == (
        f"cachexia: {service} cannot listen on 127.0.0.1:{held_port} (address already in use); "
        f"stop what holds it or set {variable}"
    )


def test_an_mllp_port_in_use_is_logged_and_said_naming_the_address_and_its_setting(
    env: dict[str, str], held_port: int
) -> None:
    """The MLLP listener binds after migrations and topics: the service never says it
    started, its error log line and its last line say which port and which setting."""
    env = {**env, "CACHEXIA_LAB_INGESTION_MLLP_PORT": str(held_port)}
    status, stdout, stderr = _service("lab-ingestion", env)
    line = (
        f"lab-ingestion cannot listen on 127.0.0.1:{held_port} (address already in use); "
        "stop what holds it or set CACHEXIA_LAB_INGESTION_MLLP_PORT"
    )
    assert status == 2, stderr[-1500:]
    assert "Traceback" not in stdout + stderr, stderr[-1500:]
    assert stderr.splitlines()[-1] == f"cachexia: {line}"
    records = _log_records(stderr)
    errors = [(r["msg"], r.get("task")) for r in records if r["level"] == "ERROR"]
    assert errors == [(f"{line}; stopping the service", "serve_mllp")]
    assert not any(r["msg"] == "service started" for r in records)


def test_a_bind_host_that_is_not_this_machines_names_the_bind_host_setting(
    env: dict[str, str],
) -> None:
    port = env["CACHEXIA_CRP_MONITOR_HTTP_PORT"]
    # TEST-NET-1 (RFC 5737): an address, but never one of this machine's
    status, stdout, stderr = _service("crp-monitor", {**env, "CACHEXIA_BIND_HOST": "192.0.2.1"})
    assert status == 2, stderr[-1500:]
    assert "Traceback" not in stdout + stderr, stderr[-1500:]
    assert stderr.splitlines()[-1] == (
        f"cachexia: crp-monitor cannot listen on 192.0.2.1:{port} (not an address of this "
        "machine); set CACHEXIA_BIND_HOST"
    )


def test_a_bind_host_that_is_no_host_is_a_settings_error(env: dict[str, str]) -> None:
    status, stdout, stderr = _service(
        "lab-ingestion", {**env, "CACHEXIA_BIND_HOST": "no such host!"}
    )
    assert status == 2, stderr[-1500:]
    assert "Traceback" not in stdout + stderr, stderr[-1500:]
    said, variable = stderr.splitlines()[:2]
    assert said == "cachexia: invalid settings"
    assert variable.startswith("  CACHEXIA_BIND_HOST: ") and "an IP address" in variable


async def test_up_says_why_a_service_exited(env: dict[str, str]) -> None:
    """`cachexia up` runs the services in the background (their output goes to log files):
    the service's one line is in what up says when the service exits, and in the banner,
    which shows it not up (review 123: "[up]" whatever happened)."""
    env = {**env, "CACHEXIA_BIND_HOST": "192.0.2.1"}  # TEST-NET-1: no address of this machine
    port = env["CACHEXIA_LAB_INGESTION_HTTP_PORT"]
    why = (
        f"lab-ingestion cannot listen on 192.0.2.1:{port} (not an address of this machine); "
        "set CACHEXIA_BIND_HOST"
    )
    expected = f"lab-ingestion exited with 2: {why}; restarting in 1 s"  # 1, 2, 4 ... 30 s
    said = await _until_said(["up"], env, expected, SERVICE_TIMEOUT_SECONDS)
    assert any(line.startswith(expected) for line in said), said
    announced = f"  lab-ingestion   http://192.0.2.1:{port}  (/healthz /readyz /metrics)"
    assert f"{announced} [not up: exited with 2: {why}]" in said, said
    assert (
        "LENA-CCS platform is NOT up: 5 of 5 services are not (see below, and their logs)" in said
    )
    assert "LENA-CCS platform is up" not in said


def test_up_refuses_a_service_port_in_use_before_starting_anything(
    env: dict[str, str], held_port: int, tmp_path: Path
) -> None:
    """Another program on a service's port (review 123: it answered /healthz, and the banner
    sent integrators to it): one line, exit 2, nothing started."""
    env = {**env, "CACHEXIA_CRP_MONITOR_HTTP_PORT": str(held_port)}
    done = subprocess.run(
        [sys.executable, "-m", "cachexia.cli", "up"],
        env=_environment(env), capture_output=True, text=True, check=False,
        timeout=SERVICE_TIMEOUT_SECONDS,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-1500:]
    assert done.stdout == ""
    assert done.stderr == (
        f"cachexia: crp-monitor cannot listen on 127.0.0.1:{held_port} (address already in "
        "use); stop what holds it or set CACHEXIA_CRP_MONITOR_HTTP_PORT\n"
    )
    assert not (tmp_path / "logs").exists()  # no service was started


async def _until_said(
    args: list[str], env: dict[str, str], expected: str, limit: float
) -> list[str]:
    """Run `cachexia ARGS` until it prints a line starting with ``expected`` (or ``limit``
    seconds pass), then stop it with SIGINT: every line it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cachexia.cli", *args, env=_environment(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    said: list[str] = []
    try:
        async with asyncio.timeout(limit):
            while not said or not said[-1].startswith(expected):
                line = await process.stdout.readline()
                if not line:
                    break
                said.append(line.decode(errors="replace").rstrip("\n"))
    except TimeoutError:
        pass
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        try:
            rest, _ = await asyncio.wait_for(process.communicate(), 20)
            said += rest.decode(errors="replace").splitlines()
        finally:
            if process.returncode is None:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
    return said


def test_up_on_a_new_data_directory_creates_nothing_in_it_before_its_port_check(
    env: dict[str, str], held_port: int, tmp_path: Path
) -> None:
    """Review 156: embedded, `cachexia up` created the patient-matching key in a new data
    directory before it found a service's port in use. Only the directory's lock is taken
    first (a second `up` on a running platform's directory is told so, not that its ports
    are in use)."""
    embedded = {
        name: value for name, value in env.items()
        if name not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "CACHEXIA_SUBJECT_HMAC_KEY")
    }  # fmt: skip
    data_dir = tmp_path / "new-data"
    embedded |= {
        "CACHEXIA_DATA_DIR": str(data_dir),
        "CACHEXIA_CRP_MONITOR_HTTP_PORT": str(held_port),
    }
    done = subprocess.run(
        [sys.executable, "-m", "cachexia.cli", "up"],
        env=_environment(embedded), capture_output=True, text=True, check=False,
        timeout=SERVICE_TIMEOUT_SECONDS,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-1500:]
    assert done.stderr == (
        f"cachexia: crp-monitor cannot listen on 127.0.0.1:{held_port} (address already in "
        "use); stop what holds it or set CACHEXIA_CRP_MONITOR_HTTP_PORT\n"
    )
    assert [p.name for p in data_dir.iterdir()] == ["platform.lock"]  # no key, no secrets
