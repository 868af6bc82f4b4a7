"""What reaches the log when a library fails on a sender's bytes: never the bytes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from shared.jsonlog import JsonFormatter
from shared.settings import PlatformSettings
from tests.integration.lab_fixtures import BIRTH, MRN, obx, oru
from tests.integration.test_lab_ingestion import Lab, running_lab

pytestmark = pytest.mark.integration


@pytest.fixture
async def lab(settings: PlatformSettings, database: str) -> AsyncIterator[Lab]:
    async with running_lab(settings, database) as lab:
        yield lab


async def test_a_body_longer_than_its_content_length_is_not_logged_with_its_phi(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    """A pooled HTTP client posts an ER7 message whose Content-Length is short (counted in
    characters, not UTF-8 bytes). The rest of the body is read as the next request, and
    aiohttp's server logs its parse error at ERROR with the buffered bytes quoted: the
    whole message, name, number, birth date and address included."""
    caplog.set_level(logging.INFO)  # the platform's default level
    message = oru("CL-1", [obx("1988-5", "50", "mg/L")]).replace("DOE^JOHN", "MÜLLER^JOHN")
    port = lab.settings.lab_ingestion_http_port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n")  # an earlier request
    await writer.drain()
    await asyncio.wait_for(reader.readuntil(b'"lab-ingestion"}'), 5)
    head = (
        f"POST /v1/hl7 HTTP/1.1\r\nHost: lab\r\nAuthorization: Bearer {lab.lab_token}\r\n"
        f"Content-Type: x-application/hl7-v2+er7\r\nContent-Length: {len(message) - 40}\r\n\r\n"
    ).encode()
    writer.write(head + message.encode())
    await writer.drain()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(reader.read(65536), 3)
    writer.close()
    formatter = JsonFormatter("lab-ingestion")
    lines = [formatter.format(r) for r in caplog.records if r.levelno >= logging.INFO]
    assert any("aiohttp" in line for line in lines)  # the library did log the failure
    leaked = [line for line in lines if any(phi in line for phi in (MRN, BIRTH, "Main St"))]
    assert not leaked, leaked[0][:900]
