"""Processing again, deleting, and listing images."""

from __future__ import annotations

from uuid import UUID, uuid4

import httpx
import pytest

from domain import events as ev
from tests.fakes import FakePorts
from tests.unit.client import assert_problem, complete, upload


async def process(client: httpx.AsyncClient, image_id: UUID | str, spec: str) -> httpx.Response:
    return await client.post(f"/api/v1/images/{image_id}/process", json={"processing": spec})


async def test_a_processed_image_can_be_processed_again_with_a_new_spec(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client, "resize:10x10")
    await complete(ports, image_id)

    response = await process(client, image_id, "Thumbnail:50 | grayscale")

    assert response.status_code == 202
    # Uploaded, requested, completed: the new request is the image's fourth event.
    assert response.json() == {"id": str(image_id), "status": "processing", "version": 4}
    assert response.headers["image-version"] == "4"
    assert response.headers["location"] == f"/api/v1/images/{image_id}/status"
    latest = ports.log.history(image_id)[-1]
    assert latest.data == ev.ProcessingRequested(request_no=2, spec="thumbnail:50|grayscale")


async def test_processing_with_a_bad_spec_is_400_naming_the_token(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client)
    head = ports.log.head()

    response = await process(client, image_id, "resize:banana")

    assert_problem(response, 400)
    assert response.json()["token"] == "resize:banana"
    assert ports.log.head() == head


@pytest.mark.parametrize("image_id", [uuid4(), "nope"])
async def test_processing_an_unknown_image_is_404(
    client: httpx.AsyncClient, image_id: UUID | str
) -> None:
    response = await process(client, image_id, "grayscale")

    assert response.status_code == 404


async def test_processing_a_deleted_image_is_409(client: httpx.AsyncClient) -> None:
    image_id = await upload(client)
    await client.delete(f"/api/v1/images/{image_id}")

    response = await process(client, image_id, "grayscale")

    assert response.status_code == 409
    assert response.json()["type"].endswith("image-deleted")


async def test_processing_while_processing_is_409(client: httpx.AsyncClient) -> None:
    image_id = await upload(client, "grayscale")

    response = await process(client, image_id, "blur:2")

    assert response.status_code == 409
    assert response.json()["type"].endswith("already-processing")


async def test_a_process_request_without_a_spec_is_400(client: httpx.AsyncClient) -> None:
    image_id = await upload(client)

    response = await client.post(f"/api/v1/images/{image_id}/process", json={})

    assert_problem(response, 400)


async def test_deleting_answers_200_once_and_404_after(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client)

    first = await client.delete(f"/api/v1/images/{image_id}")
    second = await client.delete(f"/api/v1/images/{image_id}")

    assert first.status_code == 200
    assert first.json() == {"message": "Image deleted successfully", "version": 2}
    assert first.headers["image-version"] == "2"
    assert second.status_code == 404
    assert isinstance(ports.log.history(image_id)[-1].data, ev.ImageDeleted)


@pytest.mark.parametrize("image_id", [uuid4(), "nope"])
async def test_deleting_an_unknown_image_is_404(
    client: httpx.AsyncClient, image_id: UUID | str
) -> None:
    response = await client.delete(f"/api/v1/images/{image_id}")

    assert_problem(response, 404)


async def test_the_list_pages_through_images_newest_first(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    ids = [await upload(client) for _ in range(5)]
    ports.project()

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/images", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [str(i) for i in reversed(ids)]
    assert pages == 3


async def test_the_list_filters_by_status_and_hides_deleted_images_unless_asked(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    plain = await upload(client)
    busy = await upload(client, "grayscale")
    gone = await upload(client)
    await client.delete(f"/api/v1/images/{gone}")
    ports.project()

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/api/v1/images{query}")
        assert response.status_code == 200
        return [item["id"] for item in response.json()["items"]]

    assert await ids("") == [str(busy), str(plain)]
    assert await ids("?status=processing") == [str(busy)]
    assert await ids("?status=deleted") == [str(gone)]
    item = (await client.get("/api/v1/images?status=processing")).json()["items"][0]
    assert item["status"] == "processing"
    assert item["links"]["self"] == f"/api/v1/images/{busy}/status"


@pytest.mark.parametrize(
    "query",
    ["status=lost", "limit=0", "limit=101", "limit=many", "cursor=not-a-cursor"],
)
async def test_bad_list_parameters_are_400(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/api/v1/images?{query}")

    assert_problem(response, 400)
