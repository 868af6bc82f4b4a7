"""CACHEXIA_BIND_HOST is checked with the other settings (no DNS lookup), and a listener
that cannot open its port is one line naming the address and the setting to change."""

from __future__ import annotations

import asyncio
import socket

import pytest

from shared.listening import BindFailed, listen_error, listener_failure
from shared.settings import PlatformSettings, load_settings

pytestmark = pytest.mark.usefixtures("clean_platform_environment")


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "0.0.0.0",  # every interface
        "::1",
        "::",
        "fe80::1%eth0",
        "localhost",
        "lab-ingestion.internal",
        "lab-ingestion.example.org.",
        "cachexia_lab_1",  # a container's name
    ],
)
def test_an_ip_address_or_a_host_name_is_taken(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv("CACHEXIA_BIND_HOST", host)
    assert load_settings().bind_host == host


@pytest.mark.parametrize(
    "host",
    [
        "no such host!",
        "",
        " 127.0.0.1",
        "127.0.0.1:8081",
        "[::1]",
        "999.1.1.1",
        "10.1",
        "-lab.internal",
        "lab-.internal",
        "lab..internal",
        f"{'a' * 64}.internal",
        "http://localhost",
    ],
)
def test_anything_else_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    monkeypatch.setenv("CACHEXIA_BIND_HOST", host)
    with pytest.raises(SystemExit) as stopped:
        load_settings()
    assert stopped.value.code == 2
    said, variable = capsys.readouterr().err.splitlines()
    assert said == "cachexia: invalid settings"
    assert variable.startswith("  CACHEXIA_BIND_HOST: ")
    assert "must be an IP address" in variable


async def _bind_error(host: str, port: int) -> BindFailed:
    """What a listener that cannot bind raises (as the MLLP listener does: asyncio's error,
    with the address it tried)."""

    async def nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    with pytest.raises(OSError) as failed:
        server = await asyncio.start_server(nothing, host, port)
        server.close()
    return BindFailed(host, port, failed.value)


async def test_a_listeners_port_in_use_names_the_address_and_its_setting(held_port: int) -> None:
    settings = PlatformSettings(lab_ingestion_mllp_port=held_port)
    error = await _bind_error("127.0.0.1", held_port)
    failure = listener_failure(settings, "lab-ingestion", error)
    assert str(failure) == (
        f"lab-ingestion cannot listen on 127.0.0.1:{held_port} (address already in use); "
        "stop what holds it or set CACHEXIA_LAB_INGESTION_MLLP_PORT"
    )


async def test_two_settings_of_the_one_port_are_both_named(held_port: int) -> None:
    # refused when the settings are read (test_settings.py); a copy is not validated
    settings = PlatformSettings(lab_ingestion_mllp_port=held_port).model_copy(
        update={"lab_ingestion_http_port": held_port}
    )
    error = await _bind_error("127.0.0.1", held_port)
    assert str(listener_failure(settings, "lab-ingestion", error)).endswith(
        "set CACHEXIA_LAB_INGESTION_HTTP_PORT or CACHEXIA_LAB_INGESTION_MLLP_PORT"
    )


async def test_an_ipv6_address_is_written_in_brackets() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with socket.socket(socket.AF_INET6) as holder:
        try:
            holder.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback on this machine")
        holder.listen()
        port = holder.getsockname()[1]
        error = await _bind_error("::1", port)
    failure = listener_failure(
        PlatformSettings(lab_ingestion_mllp_port=port), "lab-ingestion", error
    )
    assert f"cannot listen on [::1]:{port} (address already in use)" in str(failure)


async def test_other_errors_of_a_background_task_are_not_taken_for_a_bind_failure(
    held_port: int,
) -> None:
    settings = PlatformSettings()  # the held port is none of lab-ingestion's
    bind_failed = await _bind_error("127.0.0.1", held_port)
    assert listener_failure(settings, "lab-ingestion", bind_failed) is None
    assert listener_failure(settings, "lab-ingestion", bind_failed.cause) is None  # untyped
    refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 2575)")
    assert listener_failure(settings, "lab-ingestion", refused) is None
    assert (
        listener_failure(settings, "lab-ingestion", RuntimeError("bind ('127.0.0.1', 2575)"))
        is None
    )
    assert listener_failure(settings, "lab-ingestion", None) is None


def test_a_bind_host_that_does_not_resolve_or_is_not_ours_names_the_bind_host() -> None:
    settings = PlatformSettings(bind_host="lab.invalid")
    unresolved = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert str(listen_error(settings, "crp-monitor", "lab.invalid", 8082, unresolved)) == (
        "crp-monitor cannot listen on lab.invalid:8082 (the host name does not resolve); "
        "set CACHEXIA_BIND_HOST"
    )
    not_ours = OSError(99, "error while attempting to bind on address ('192.0.2.1', 8082): x")
    assert str(listen_error(settings, "crp-monitor", "192.0.2.1", 8082, not_ours)) == (
        "crp-monitor cannot listen on 192.0.2.1:8082 (not an address of this machine); "
        "set CACHEXIA_BIND_HOST"
    )
    denied = PermissionError(13, "error while attempting to bind on address ('::', 80): x")
    low_port = PlatformSettings(crp_monitor_http_port=80)
    assert str(listen_error(low_port, "crp-monitor", "::", 80, denied)) == (
        "crp-monitor cannot listen on [::]:80 (permission denied); "
        "set CACHEXIA_CRP_MONITOR_HTTP_PORT"
    )
