"""`cachexia up`'s banner shows a service "[up]" only when its own process is alive, listens on
its ports itself and /healthz answers with its name; otherwise "[not up: why]" (review 123:
every service was shown "[up]" while each exited "address already in use" and another
program answered 200 on /healthz). A service port in use stops `cachexia up` before anything
starts. Small real processes stand for the services; no infrastructure."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import cachexia.up as up_module
from cachexia.errors import InfrastructureError
from cachexia.service_check import check_ports_free, service_state
from cachexia.service_processes import ServiceProcess
from cachexia.up import Platform
from shared.settings import PlatformSettings
from tests.conftest import free_listener_ports

# a service's stand-in: answers /healthz naming SERVICE on HTTP_PORT (and listens on
# MLLP_PORT when given), as the real one does
_STAND_IN = """
import json, socket, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
name, http_port, mllp_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if mllp_port:
    mllp = socket.socket(); mllp.bind(("127.0.0.1", mllp_port)); mllp.listen()
class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok", "service": name}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *_): pass
HTTPServer(("127.0.0.1", http_port), Health).serve_forever()
"""


def settings_for(tmp_path: Path) -> PlatformSettings:
    return PlatformSettings(data_dir=tmp_path).model_copy(update=free_listener_ports())


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def run(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path, name: str, args: list[str]
) -> ServiceProcess:
    service = ServiceProcess(name, tmp_path / f"{name}.log")
    service.process = subprocess.Popen(args)
    processes.append(service.process)
    return service


def stand_in(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path, name: str, http: int, mllp: int = 0
) -> ServiceProcess:
    return run(
        processes, tmp_path, name, [sys.executable, "-c", _STAND_IN, name, str(http), str(mllp)]
    )


def answer_as(name: str, port: int) -> ThreadingHTTPServer:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "service": name}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def wait_for_state(service: ServiceProcess, settings: PlatformSettings, up: bool) -> str:
    for _ in range(100):
        seen = service_state(service, settings)
        if seen.up == up and "yet" not in seen.why:
            return seen.shown()
        threading.Event().wait(0.05)
    return service_state(service, settings).shown()


def test_a_service_answering_on_its_own_ports_is_up(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    lab = stand_in(processes, tmp_path, "lab-ingestion", settings.lab_ingestion_http_port,
                   settings.lab_ingestion_mllp_port)  # fmt: skip
    crp = stand_in(processes, tmp_path, "crp-monitor", settings.crp_monitor_http_port)
    assert wait_for_state(lab, settings, up=True) == "[up]"
    assert wait_for_state(crp, settings, up=True) == "[up]"


def test_another_program_answering_with_the_services_name_is_not_taken_for_it(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    port = settings.crp_monitor_http_port
    other = answer_as("crp-monitor", port)  # another platform's crp-monitor, say
    try:
        alive = run(processes, tmp_path, "crp-monitor", ["sleep", "30"])
        assert service_state(alive, settings).shown() == (
            f"[not up: another program answers on http://127.0.0.1:{port}]"
        )
    finally:
        other.shutdown()
        other.server_close()


def test_lab_ingestion_is_not_up_while_another_program_holds_its_mllp_port(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    lab = stand_in(processes, tmp_path, "lab-ingestion", settings.lab_ingestion_http_port)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", settings.lab_ingestion_mllp_port))
        holder.listen()
        assert wait_for_state(lab, settings, up=False) == (
            "[not up: another program listens on MLLP "
            f"127.0.0.1:{settings.lab_ingestion_mllp_port}]"
        )


def exited_after(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path, line: str, ending: str
) -> ServiceProcess:
    """crp-monitor's stand-in, ended by ``ending`` once it wrote ``line`` to its log."""
    exited = run(processes, tmp_path, "crp-monitor", ["sh", "-c", f"echo '{line}' >> "
                 f"{tmp_path / 'crp-monitor.log'}; {ending}"])  # fmt: skip
    assert exited.process is not None
    exited.process.wait()
    return exited


def test_a_service_that_exited_is_shown_with_its_code_and_its_line(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    line = "cachexia: crp-monitor cannot listen on 127.0.0.1:1 (address already in use)"
    exited = exited_after(processes, tmp_path, line, "exit 2")
    seen = service_state(exited, settings)
    assert seen.final and seen.shown() == f"[not up: exited with 2: {line[10:]}]"


def test_a_warning_is_never_shown_as_why_a_service_exited(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """Review 128: a service killed after its start-up warning about an unknown variable
    was shown as `exited with -9: warning: CACHEXIA_LOG_FORMAT is no setting ...`."""
    settings = settings_for(tmp_path)
    warning = "cachexia: warning: CACHEXIA_LOG_FORMAT is no setting and is ignored"
    exited = exited_after(processes, tmp_path, warning, "kill -9 $$")
    assert exited.exit_reason() is None
    assert service_state(exited, settings).shown() == "[not up: exited with -9]"


async def test_the_banner_never_says_up_for_a_service_that_is_not(
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The review's case: another program answers 200 on every service's /healthz."""
    settings = settings_for(tmp_path)
    said: list[str] = []
    monkeypatch.setattr(up_module, "say", said.append)
    monkeypatch.setattr(up_module, "ANNOUNCE_WAIT_SECONDS", 0.5)
    platform = Platform(settings)
    others = [answer_as("whatever", settings.http_port(s.name)) for s in platform.services]
    try:
        platform.services = [
            run(processes, tmp_path, s.name, ["sleep", "30"]) for s in platform.services
        ]
        await platform._announce()
    finally:
        for other in others:
            other.shutdown()
            other.server_close()
    assert "LENA-CCS platform is up" not in said
    assert said[1] == (
        "LENA-CCS platform is NOT up: 5 of 5 services are not (see below, and their logs)"
    )
    lab_line = next(line for line in said if line.startswith("  lab-ingestion   http://"))
    assert lab_line.endswith(
        f"[not up: another program answers on http://127.0.0.1:{settings.lab_ingestion_http_port}]"
    )
    assert not any(line.endswith("[up]") for line in said)


def test_a_service_port_in_use_stops_up_before_anything_starts(
    held_port: int, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path).model_copy(update={"dose_decision_http_port": held_port})
    with pytest.raises(InfrastructureError) as refused:
        check_ports_free(settings, ["lab-ingestion", "dose-decision"])
    assert refused.value.exit_code == 2
    assert str(refused.value) == (
        f"dose-decision cannot listen on 127.0.0.1:{held_port} (address already in use); "
        "stop what holds it or set CACHEXIA_DOSE_DECISION_HTTP_PORT"
    )
    check_ports_free(settings, ["lab-ingestion", "crp-monitor"])  # free: nothing said
