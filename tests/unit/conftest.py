"""The API on in-memory ports, as most unit tests meet it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api import ApiServices, create_app
from infra.imaging import probe
from tests.fakes import FakePorts, api_limits, fake_ports


@pytest.fixture
def ports() -> FakePorts:
    return fake_ports()


@pytest.fixture(name="api_limits")
def small_api_limits() -> dict[str, Any]:
    """Overridden by test modules that need other limits."""
    return api_limits(max_pixels=1_000_000)


@pytest.fixture
def services(ports: FakePorts, api_limits: dict[str, Any]) -> ApiServices:
    return ApiServices(
        commands=ports.commands,
        queries=ports.queries,
        log=ports.log,
        blobs=ports.blobs,
        probe=probe,
        # No projector runs here: a read carrying a version the rows lack asks the event
        # store at once.
        read_your_writes_wait=0.0,
        **api_limits,
    )


@pytest.fixture
async def client(services: ApiServices) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(services)) as client:
        yield client
