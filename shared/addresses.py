"""Addresses as the settings take and show them: host names, ``host:port`` lists, database
URLs (checked without a DNS lookup or a connection; a URL's password masked for printing)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlsplit

_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
# one label of a host name (RFC 1123; "_" too, as container names have it)
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def host_port(host: str, port: int) -> str:
    """``host:port``, an IPv6 address in brackets (``[::1]:8081``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_bind_host(host: str) -> bool:
    """An IP address, or a name that could resolve: dot-separated labels of letters, digits,
    '-' (not first or last) and '_', the last not all digits (no DNS lookup here)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.removesuffix(".").split(".")
        return (
            len(host) <= 253
            and all(_HOST_LABEL.fullmatch(label) for label in labels)
            and not labels[-1].isdigit()  # 999.1.1.1 or 10.1 is no address, and no name
        )
    return True


def masked_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) as ``***``:
    what may be printed or logged of a database URL."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    query_at = rest.find("?")
    authority_end = len(rest) if query_at < 0 else query_at
    at = rest.rfind("@", 0, authority_end)  # the last one: a password may hold an "@"
    if at >= 0:
        user, colon, _password = rest[:at].partition(":")
        rest = f"{user}{':***' if colon else ''}{rest[at:]}"
    rest = re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", rest)
    return f"{scheme}://{rest}"


def check_postgres_url(url: str) -> None:
    """Raise ValueError unless ``url`` is a postgresql:// URL whose ports are numbers."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise ValueError("must start with postgresql:// (or be empty for the embedded server)")
    try:
        parts = urlsplit(url)
    except ValueError as error:  # e.g. an unclosed [IPv6 literal
        raise ValueError(f"malformed URL ({error})") from None
    hosts = parts.netloc.rpartition("@")[2]
    ports = [h.rpartition("]")[2].rpartition(":")[2] for h in hosts.split(",") if ":" in h]
    ports += [p for k, v in parse_qsl(parts.query) if k == "port" for p in v.split(",")]
    for port in ports:
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(f"port {port!r} is not a number from 1 to 65535")


def check_host_port(entry: str) -> None:
    """Raise ValueError unless ``entry`` is ``host:port`` (a host name, IPv4 or [IPv6])."""
    host, colon, port = entry.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        valid_host = len(host) > 2 and all(c in "0123456789abcdefABCDEF:." for c in host[1:-1])
    else:
        valid_host = bool(_HOST_NAME.fullmatch(host))
    if not (colon and valid_host and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(
            f"{entry!r} is not host:port (a comma-separated list of them, e.g. kafka-1:9092,"
            "kafka-2:9092)"
        )
