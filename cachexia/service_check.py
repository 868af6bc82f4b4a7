"""Whether a service `cachexia up` started is up, and if not, why; and the services' ports
checked free before anything starts.

A service is up when its own process is alive, ``/healthz`` on its HTTP port answers with its
name, and (Linux: ``/proc``) that port's listening socket is the process's own, as is, for
lab-ingestion, the MLLP port's (elsewhere: the MLLP port accepts a connection). An answer of
another program on the port (another platform's service, a web server) is never taken for the
service's (review 123: every service was shown "[up]" while each exited "address already in
use" and another program answered).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cachexia.errors import EXIT_USAGE, InfrastructureError
from cachexia.service_processes import ServiceProcess
from shared.addresses import host_port
from shared.listening import listen_error
from shared.settings import PlatformSettings

_TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_LISTEN = "0A"  # a socket's state in /proc/net/tcp: TCP_LISTEN
HEALTHZ_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class ServiceState:
    up: bool
    why: str = ""  # when not up: what was seen
    final: bool = False  # it will not change by waiting (the process exited)

    def shown(self) -> str:
        return "[up]" if self.up else f"[not up: {self.why}]"


def service_state(service: ServiceProcess, settings: PlatformSettings) -> ServiceState:
    """What is seen of ``service`` now (it blocks for up to a second or two: a thread's)."""
    process = service.process
    if process is None:
        return ServiceState(False, "not started", final=True)
    code = process.poll()
    if code is not None:
        reason = service.exit_reason()
        return ServiceState(False, f"exited with {code}{f': {reason}' if reason else ''}", True)
    why = why_not_up(process.pid, service.name, settings)
    return ServiceState(why is None, why or "")


def why_not_up(pid: int, name: str, settings: PlatformSettings) -> str | None:
    """What keeps service ``name``, alive as process ``pid``, from being up; None: it is."""
    host = settings.bind_host
    http_port = settings.http_port(name)
    url = f"http://{host_port(host, http_port)}"
    named = healthz_service(f"{url}/healthz")
    owner = listener_owner(pid, http_port)
    if owner == "other" or (owner is None and named not in (None, name)):
        return f"another program answers on {url}"
    if named != name or owner == "none":
        return f"no answer on {url} yet"
    if name != "lab-ingestion":
        return None
    mllp_port = settings.lab_ingestion_mllp_port
    mllp = f"MLLP {host_port(host, mllp_port)}"
    owner = listener_owner(pid, mllp_port)
    if owner == "other":
        return f"another program listens on {mllp}"
    if owner == "none" or (owner is None and not _accepts(host, mllp_port)):
        return f"{mllp} not listening yet"
    return None


def healthz_service(url: str) -> str | None:
    """The ``service`` that ``url`` (a /healthz) names in a 200 answer; "" when something
    answers otherwise (another status, not our JSON); None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=HEALTHZ_TIMEOUT_SECONDS) as response:  # noqa: S310 - our own URL
            body = response.read(4096)
            if response.status != 200:
                return ""
    except urllib.error.HTTPError:
        return ""  # answered, with another status
    except (OSError, ValueError):  # refused, timed out, not HTTP
        return None
    try:
        named = json.loads(body).get("service")
    except (ValueError, AttributeError):
        return ""
    return named if isinstance(named, str) else ""


def listener_owner(pid: int, port: int) -> Literal["self", "other", "none"] | None:
    """Who listens on TCP ``port`` (any address): process ``pid`` itself ("self", among
    others perhaps), only other processes, or nothing; None when that cannot be seen (no
    /proc: not Linux)."""
    inodes = listening_inodes(port)
    if inodes is None:
        return None
    if not inodes:
        return "none"
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return "other"  # gone since: what listens is not it
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for descriptor in descriptors:
        with contextlib.suppress(OSError):  # closed meanwhile
            if os.readlink(f"/proc/{pid}/fd/{descriptor}") in wanted:
                return "self"
    return "other"


def listening_inodes(port: int) -> set[str] | None:
    """The inodes of the sockets listening on TCP ``port`` (IPv4 and IPv6); None without
    /proc/net/tcp."""
    found: set[str] | None = None
    for table in _TCP_TABLES:
        try:
            rows = table.read_text().splitlines()[1:]
        except OSError:
            continue
        found = found or set()
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == _LISTEN and _port_of(fields[1]) == port:
                found.add(fields[9])
    return found


def _port_of(address: str) -> int:
    return int(address.rpartition(":")[2], 16)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((_reachable(host), port), timeout=1):
            return True
    except OSError:
        return False


def _reachable(host: str) -> str:
    """Where to reach a listener bound to ``host`` (every interface: the loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - compared


def check_ports_free(settings: PlatformSettings, services: list[str]) -> None:
    """InfrastructureError (exit 2, one line naming the variable) when a port a service is
    to listen on is in use now: nothing started, rather than a service exiting and restarted
    again and again (or another program's answer taken for it). Other bind errors (not an
    address of this machine) are left to the service, which names them. Two listeners given
    one port (``PlatformSettings.shared_port``) are refused first, naming both variables."""
    shared = settings.shared_port()
    if shared is not None:
        raise InfrastructureError(shared, EXIT_USAGE)
    for name in services:
        ports = [settings.http_port(name)]
        if name == "lab-ingestion":
            ports.append(settings.lab_ingestion_mllp_port)
        for port in ports:
            error = _bind_error(settings.bind_host, port)
            if error is not None and error.errno == errno.EADDRINUSE:
                failure = listen_error(settings, name, settings.bind_host, port, error)
                raise InfrastructureError(str(failure), EXIT_USAGE)


def _bind_error(host: str, port: int) -> OSError | None:
    """The error binding ``host``:``port`` as the service will (SO_REUSEADDR) raises now."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return None
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                return error
    return None
