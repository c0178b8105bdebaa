"""Read-your-writes as a contract: a command answers with the image's version; a read that
carries it reflects at least that version, and a read without it is one query of the
read model."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest

from api import ApiServices, create_app
from projections.rows import ImageRow
from tests.fakes import FakePorts
from tests.unit.client import assert_problem, complete, upload_versioned


def event_store_unreachable(ports: FakePorts, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any read that asks the event store now fails (500)."""

    def refused(*args: Any) -> None:
        raise RuntimeError("the event store was asked")

    monkeypatch.setattr(ports.log, "history", refused)


async def test_a_read_without_a_version_is_one_query_of_the_read_model(
    client: httpx.AsyncClient, ports: FakePorts, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id, _version = await upload_versioned(client, "grayscale")
    ports.project()
    event_store_unreachable(ports, monkeypatch)
    before = ports.queries.calls

    status = await client.get(f"/api/v1/images/{image_id}/status")

    assert status.status_code == 200
    assert ports.queries.calls == before + 1


async def test_a_read_whose_version_the_projection_has_is_one_query(
    client: httpx.AsyncClient, ports: FakePorts, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id, version = await upload_versioned(client)
    ports.project()
    event_store_unreachable(ports, monkeypatch)
    before = ports.queries.calls

    response = await client.get(f"/api/v1/images/{image_id}", params={"min_version": version})

    assert response.status_code == 200
    assert ports.queries.calls == before + 1


@pytest.fixture
async def waiting_client(services: ApiServices) -> AsyncIterator[httpx.AsyncClient]:
    """The API waiting as long as it takes for the projector in its process, never
    looking again by itself: only the projector's pulse wakes a waiting read."""
    patient = dataclasses.replace(services, read_your_writes_wait=60.0, read_your_writes_poll=60.0)
    # On the test's own event loop, as the projector shares the API's.
    transport = httpx.ASGITransport(app=create_app(patient))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


async def test_a_read_carrying_a_version_waits_for_the_projector_in_its_process(
    waiting_client: httpx.AsyncClient,
    services: ApiServices,
    ports: FakePorts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image_id, _version = await upload_versioned(waiting_client, "grayscale")
    ports.project()
    await complete(ports, image_id)  # version 3, not projected yet
    event_store_unreachable(ports, monkeypatch)
    asked = asyncio.Event()
    get = ports.queries.get

    async def get_and_tell(image_id: UUID) -> ImageRow | None:
        try:
            return await get(image_id)
        finally:
            asked.set()

    monkeypatch.setattr(ports.queries, "get", get_and_tell)

    url = f"/api/v1/images/{image_id}/status"
    read = asyncio.create_task(waiting_client.get(url, params={"min_version": 3}))
    await asked.wait()  # the read has found the row behind
    ports.project()
    services.projected.beat()  # as the projector does after each batch

    status = (await read).json()
    assert status["status"] == "processed"


async def test_right_after_delete_the_deleting_client_reads_404(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id, _version = await upload_versioned(client)
    ports.project()

    deleted = await client.delete(f"/api/v1/images/{image_id}")
    version = deleted.headers["image-version"]

    url = f"/api/v1/images/{image_id}/status"
    assert (await client.get(url)).status_code == 200, "the row, not projected yet"
    assert (await client.get(url, headers={"Min-Image-Version": version})).status_code == 404


async def test_a_version_beyond_the_image_s_reads_what_the_event_store_has(
    client: httpx.AsyncClient,
) -> None:
    image_id, _version = await upload_versioned(client, "grayscale")

    status = await client.get(f"/api/v1/images/{image_id}/status", params={"min_version": 99})

    assert status.status_code == 200
    assert status.json()["status"] == "processing"


@pytest.mark.parametrize("given", [{"min_version": "0"}, {"min_version": "three"}])
async def test_a_version_that_is_not_a_positive_number_is_400(
    client: httpx.AsyncClient, given: dict[str, str]
) -> None:
    image_id = UUID(int=1)

    response = await client.get(f"/api/v1/images/{image_id}/status", params=given)

    assert_problem(response, 400)


async def test_the_openapi_document_describes_the_contract(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    image = "/api/v1/images/{image_id}"

    for path, method in [(image, "get"), (image, "head"), (f"{image}/status", "get")]:
        parameters = {p["name"]: p for p in paths[path][method]["parameters"]}
        assert "read your own writes" in parameters["min_version"]["description"].lower()
        assert parameters["Min-Image-Version"]["in"] == "header"
    for path, method, status in [
        ("/api/v1/images", "post", "202"),
        (f"{image}/process", "post", "202"),
        (image, "delete", "200"),
    ]:
        assert "Image-Version" in paths[path][method]["responses"][status]["headers"]
