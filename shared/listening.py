"""A port a service cannot open, said as one line naming the address and the setting to
change (``cachexia service`` prints it and exits 2, "a setting to correct")."""

from __future__ import annotations

import errno
import os
import socket

from shared.addresses import host_port
from shared.settings import PlatformSettings, setting_variable


class ListenError(Exception):
    """A port of the service could not be opened (in use, not this machine's address, a host
    name that does not resolve): ``str()`` is one line for the operator, naming the address
    and the setting to change. ``ServiceRuntime.run`` raises it once stopped."""


class BindFailed(OSError):
    """A listener of a background task (lab-ingestion's MLLP port) could not bind
    ``host``:``port``; ``cause`` is the error the bind raised."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        super().__init__(cause.errno, f"cannot bind {host_port(host, port)}")
        self.host, self.port, self.cause = host, port, cause


def listen_error(
    settings: PlatformSettings, service: str, host: str, port: int, error: OSError
) -> ListenError:
    """``error``, raised binding ``host``:``port`` (a port of ``service``'s settings), as the
    line that says what to change."""
    bind_host = setting_variable("bind_host")
    if isinstance(error, socket.gaierror):
        reason, variables = "the host name does not resolve", [bind_host]
    elif error.errno == errno.EADDRNOTAVAIL:
        reason, variables = "not an address of this machine", [bind_host]
    else:
        reason = os.strerror(error.errno).lower() if error.errno else type(error).__name__
        variables = settings.port_variables(service, port)
    remedy = "stop what holds it or set" if error.errno == errno.EADDRINUSE else "set"
    return ListenError(
        f"{service} cannot listen on {host_port(host, port)} ({reason}); "
        f"{remedy} {' or '.join(variables)}"
    )


def listener_failure(
    settings: PlatformSettings, service: str, error: BaseException | None
) -> ListenError | None:
    """A background task's error as a ListenError when it is a listener's bind failure on
    one of ``service``'s ports; otherwise None."""
    if not isinstance(error, BindFailed) or not settings.port_variables(service, error.port):
        return None
    return listen_error(settings, service, error.host, error.port, error.cause)
