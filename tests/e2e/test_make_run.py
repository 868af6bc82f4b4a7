"""`make run` brings the whole platform up, and Ctrl-C stops every process within 10 s."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from bench.infra import free_port
from shared.embedded.tansu import ending_with_starter, port_open

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("lab-ingestion", "crp-monitor", "dose-decision", "safety-alerting", "outcome-scoring")


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _platform_env(server_folder: Path, kafka: int, ports: dict[str, int]) -> dict[str, str]:
    """The environment of a platform of its own: embedded servers, free ports, data in
    ``server_folder``."""
    env = {
        **os.environ,
        "CACHEXIA_DATA_DIR": str(server_folder / "data"),
        "CACHEXIA_EMBEDDED_POSTGRES_PORT": str(free_port()),
        "CACHEXIA_EMBEDDED_KAFKA_PORT": str(kafka),
        "CACHEXIA_LAB_INGESTION_MLLP_PORT": str(free_port()),
        **{f"CACHEXIA_{n.upper().replace('-', '_')}_HTTP_PORT": str(p) for n, p in ports.items()},
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.pop("DATABASE_URL", None)
    return env


def test_make_run_comes_up_and_stops_cleanly(server_folder: Path) -> None:
    ports = {name: free_port() for name in SERVICES}
    env = _platform_env(server_folder, free_port(), ports)
    make = subprocess.Popen(
        ["make", "-s", "run"], cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output: list[str] = []
    try:
        assert make.stdout is not None
        deadline = time.monotonic() + 180
        for line in make.stdout:
            output.append(line)
            if "Press Ctrl-C to stop." in line or time.monotonic() > deadline:
                break
        assert any("LENA-CCS platform is up" in line for line in output), "".join(output)
        for name, port in ports.items():
            assert f"http://127.0.0.1:{port}" in "".join(output)
            _wait_for(f"http://127.0.0.1:{port}/readyz", 200, name)
            assert _status(f"http://127.0.0.1:{port}/metrics") == 200

        _an_hl7_sender_can_be_allowed_and_heard(env)

        processes = _descendants(make.pid)
        postmaster = (server_folder / "data" / "postgres" / "postmaster.pid").read_text().split()[0]
        processes.add(int(postmaster))
        assert len(processes) >= 7  # cachexia up, the broker, five services (+ PostgreSQL)

        started = time.monotonic()
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        make.wait(15)
        elapsed = time.monotonic() - started
        rest = make.stdout.read()
        assert elapsed <= 10, f"stopping took {elapsed:.1f} s\n{rest}"
        survivors = [pid for pid in processes if _alive(pid)]
        assert survivors == [], f"left behind: {survivors}"
        assert "stopped" in rest
    finally:
        if make.poll() is None:  # a failed assertion: still stop the platform cleanly
            os.killpg(make.pid, signal.SIGINT)
            try:
                make.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)


def _an_hl7_sender_can_be_allowed_and_heard(env: dict[str, str]) -> None:
    """`cachexia source add` works against the running platform; MLLP then answers AA."""
    added = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cachexia"), "source", "add",
         "--application", "LIS", "--facility", "HOSP", "--identifier-authority", "HOSP"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "matched by numbers of HOSP" in added.stdout
    assert "without --time-zone" in added.stderr  # offset-less times: MSH-7's offset
    mistyped = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cachexia"), "source", "add",
         "--application", "LIS", "--facility", "SITE9", "--site", "CH09"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert mistyped.returncode == 0 and "no subject of site CH09" in mistyped.stderr
    time.sleep(2.5)  # the allow-list is re-read every 2 s
    message = (
        "MSH|^~\\&|LIS|HOSP|LENA|TRIAL|20261120090000+0100||ORU^R01|E2E-1|P|2.5.1\r"
        "PID|1||MRN1^^^HOSP^MR\rOBR|1||O1|X|||20261120081500+0100\r"
        "OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||F|||20261120081500+0100\r"
    )
    port = int(env["CACHEXIA_LAB_INGESTION_MLLP_PORT"])
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):  # the listener starts once topics and tables exist
        assert time.monotonic() < deadline, "the MLLP listener did not start"
        time.sleep(0.2)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"\x0b" + message.encode() + b"\x1c\r")
        ack = b""
        while not ack.endswith(b"\x1c\r"):
            chunk = connection.recv(4096)
            assert chunk, "connection closed before the ACK"
            ack += chunk
    assert b"MSA|AA|E2E-1" in ack, ack


def _wait_for(url: str, status: int, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _status(url) != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: {url} did not answer {status}")
        time.sleep(0.3)


@pytest.mark.skipif(not ending_with_starter(), reason="no setpriv (not Linux)")
def test_a_killed_cachexia_up_leaves_no_service_nor_broker_behind(server_folder: Path) -> None:
    """SIGKILL (the OOM killer) gives `cachexia up` no chance to stop anything: its services
    and its broker end by Linux's parent-death signal (the broker left running held its port
    against the next `make run`); PostgreSQL is left running by design (the next `cachexia
    up` uses it), and is stopped here."""
    kafka, ports = free_port(), {name: free_port() for name in SERVICES}
    env = _platform_env(server_folder, kafka, ports)
    up = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "cachexia"), "up"], cwd=ROOT, env=env,
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    postmaster_pid = server_folder / "data" / "postgres" / "postmaster.pid"
    children: set[int] = set()
    try:
        assert up.stdout is not None
        deadline, output = time.monotonic() + 180, []
        for line in up.stdout:
            output.append(line)
            if "Press Ctrl-C to stop." in line or time.monotonic() > deadline:
                break
        assert any("LENA-CCS platform is up" in line for line in output), "".join(output)
        children = _descendants(up.pid)
        assert port_open("127.0.0.1", kafka)

        up.send_signal(signal.SIGKILL)
        up.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (
            port_open("127.0.0.1", kafka) or any(_alive(pid) for pid in children)
        ):
            time.sleep(0.2)
        assert not port_open("127.0.0.1", kafka), "the broker outlived `cachexia up`"
        assert [pid for pid in children if _alive(pid)] == []
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        for pid in children:  # (none alive, unless an assertion above failed)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if postmaster_pid.exists():  # fast shutdown of the PostgreSQL left running
            os.kill(int(postmaster_pid.read_text().split()[0]), signal.SIGINT)
            deadline = time.monotonic() + 30
            while postmaster_pid.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
