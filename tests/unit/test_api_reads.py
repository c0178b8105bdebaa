"""Reading images: bytes with cache validators, status, history; 404 for what is not there.

Reads answer from the read model, so most stories project the log first, as the projector
would; tests/unit/test_api_read_your_writes.py tells what a read carrying a version does.
"""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from commands.messages import DeleteImage, FailProcessing
from domain.keys import original_key
from tests.fakes import FakePorts
from tests.unit.client import (
    ORIGINAL,
    PROBLEM,
    RESULT,
    assert_problem,
    complete,
    upload,
    upload_versioned,
)


async def test_an_image_uploaded_without_a_spec_serves_its_original(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client)
    ports.project()

    response = await client.get(f"/api/v1/images/{image_id}")

    assert response.status_code == 200
    assert response.content == ORIGINAL
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-length"] == str(len(ORIGINAL))
    assert response.headers["cache-control"] == "public, no-cache"


async def test_a_processed_image_streams_its_result_with_a_strong_etag(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client, "resize:20x20|format:gif")
    await complete(ports, image_id)
    ports.project()

    response = await client.get(f"/api/v1/images/{image_id}")

    assert response.status_code == 200
    assert response.content == RESULT
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["content-length"] == str(len(RESULT))
    assert response.headers["cache-control"] == "public, no-cache"
    assert response.headers["etag"].startswith('"')


async def test_a_client_holding_the_current_etag_gets_304(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client, "grayscale")
    await complete(ports, image_id)
    ports.project()
    url = f"/api/v1/images/{image_id}"
    etag = (await client.get(url)).headers["etag"]

    for validator in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        revalidated = await client.get(url, headers={"If-None-Match": validator})
        assert revalidated.status_code == 304, validator
        assert revalidated.content == b""
        assert revalidated.headers["etag"] == etag

    stale = await client.get(url, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


async def test_while_processing_the_image_is_a_409_carrying_its_status(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client, "resize:10x10")
    ports.project()

    response = await client.get(f"/api/v1/images/{image_id}")

    assert_problem(response, 409)
    problem = response.json()
    assert (problem["id"], problem["image_status"], problem["error"]) == (
        str(image_id),
        "processing",
        None,
    )


async def test_a_failed_image_is_a_409_carrying_the_reason(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client, "resize:10x10")
    ports.commands.fail_processing(
        FailProcessing(image_id=image_id, request_no=1, reason="decoder gave up")
    )
    ports.project()

    problem = (await client.get(f"/api/v1/images/{image_id}")).json()

    assert (problem["image_status"], problem["error"]) == ("failed", "decoder gave up")


async def test_the_original_is_served_as_immutable(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client, "grayscale")
    await complete(ports, image_id)
    ports.project()

    response = await client.get(f"/api/v1/images/{image_id}/original")

    assert response.content == ORIGINAL
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    again = await client.get(
        f"/api/v1/images/{image_id}/original", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


ENTITY_HEADERS = ("etag", "cache-control", "content-type", "content-length")


@pytest.mark.parametrize("suffix", ["", "/original"])
async def test_head_answers_what_get_would_without_the_bytes(
    client: httpx.AsyncClient, ports: FakePorts, suffix: str
) -> None:
    image_id = await upload(client, "resize:20x20|format:gif")
    await complete(ports, image_id)
    ports.project()
    url = f"/api/v1/images/{image_id}{suffix}"
    got = await client.get(url)
    ports.blobs.failing = {"stream"}  # HEAD never reads the bytes

    response = await client.head(url)

    assert response.status_code == 200
    assert response.content == b""
    assert {h: response.headers[h] for h in ENTITY_HEADERS} == {
        h: got.headers[h] for h in ENTITY_HEADERS
    }

    revalidated = await client.head(url, headers={"If-None-Match": got.headers["etag"]})
    assert revalidated.status_code == 304
    assert revalidated.headers["etag"] == got.headers["etag"]


@pytest.mark.parametrize("suffix", ["", "/original"])
async def test_head_of_an_unknown_deleted_or_bytes_missing_image_is_404(
    client: httpx.AsyncClient, ports: FakePorts, suffix: str
) -> None:
    deleted, bytes_gone = await upload(client), await upload(client)
    ports.commands.delete(DeleteImage(image_id=deleted))
    await ports.blobs.delete(original_key(bytes_gone))
    ports.project()

    for image_id in (uuid4(), deleted, bytes_gone):
        response = await client.head(f"/api/v1/images/{image_id}{suffix}")
        assert response.status_code == 404, image_id
        assert response.headers["content-type"] == PROBLEM


async def test_head_of_an_image_still_processing_is_409(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client, "resize:10x10")
    ports.project()

    response = await client.head(f"/api/v1/images/{image_id}")

    assert_problem(response, 409)


async def test_status_is_answered_right_after_upload_before_the_projection_catches_up(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id, version = await upload_versioned(client, "Resize:100X100")
    assert ports.read_model.get(image_id) is None

    url = f"/api/v1/images/{image_id}/status"
    assert (await client.get(url)).status_code == 404, "without the version: the row, none yet"
    status = (await client.get(url, params={"min_version": version})).json()

    assert status["id"] == str(image_id)
    assert status["status"] == "processing"
    assert status["spec"] == "resize:100x100"
    assert (status["file_name"], status["content_type"]) == ("cat.png", "image/png")
    assert (status["size"], status["width"], status["height"]) == (len(ORIGINAL), 40, 30)
    assert status["result"] is None
    assert status["links"]["original"] == f"/api/v1/images/{image_id}/original"


async def test_a_read_carrying_a_version_the_projection_lacks_is_brought_up_to_it(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client, "grayscale")
    ports.project()  # the read model has the request...
    await complete(ports, image_id)  # ...but not yet its result, version 3
    url = f"/api/v1/images/{image_id}"

    assert (await client.get(f"{url}/status")).json()["status"] == "processing"
    status = (await client.get(f"{url}/status", params={"min_version": 3})).json()
    assert status["status"] == "processed"
    assert (await client.get(url, headers={"Min-Image-Version": "3"})).content == RESULT


async def test_a_new_request_shows_at_once_even_before_the_projection_has_it(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client, "grayscale")
    await complete(ports, image_id)
    ports.project()  # the read model says processed...
    again = await client.post(f"/api/v1/images/{image_id}/process", json={"processing": "blur:3"})
    assert again.status_code == 202  # ...and the new request is not projected yet
    mine = {"Min-Image-Version": again.headers["image-version"]}

    status = (await client.get(f"/api/v1/images/{image_id}/status", headers=mine)).json()
    assert (status["status"], status["spec"]) == ("processing", "blur:3")
    assert (await client.get(f"/api/v1/images/{image_id}", headers=mine)).status_code == 409


async def test_a_deleted_image_is_gone_at_once_even_before_the_projection_has_it(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client)
    ports.project()
    deleted = await client.delete(f"/api/v1/images/{image_id}")
    assert deleted.status_code == 200
    mine = {"min_version": deleted.json()["version"]}
    url = f"/api/v1/images/{image_id}"
    for path in ("", "/status", "/original"):
        assert (await client.get(f"{url}{path}", params=mine)).status_code == 404
    for path in ("", "/original"):
        assert (await client.head(f"{url}{path}", params=mine)).status_code == 404


@pytest.mark.parametrize("alias", ["{%s}", "urn:uuid:%s", "UPPER"])
async def test_an_image_has_one_url(
    client: httpx.AsyncClient, ports: FakePorts, alias: str
) -> None:
    image_id = str(await upload(client))
    ports.project()
    other = image_id.upper() if alias == "UPPER" else alias % image_id
    assert (await client.get(f"/api/v1/images/{image_id}/status")).status_code == 200
    assert (await client.get(f"/api/v1/images/{other}/status")).status_code == 404
    assert (await client.get(f"/api/v1/images/{image_id.replace('-', '')}")).status_code == 404


async def test_status_of_a_processed_image_describes_its_result(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client, "resize:20x20|format:gif")
    await complete(ports, image_id)
    ports.project()

    status = (await client.get(f"/api/v1/images/{image_id}/status")).json()

    assert status["status"] == "processed"
    assert status["result"] == {
        "content_type": "image/gif",
        "size": len(RESULT),
        "width": 20,
        "height": 15,
    }
    assert status["updated_at"] >= status["created_at"]


READS = ["", "/original", "/status", "/events"]


@pytest.mark.parametrize("suffix", READS)
@pytest.mark.parametrize(
    "image_id", [pytest.param(str(uuid4()), id="unknown"), "not-a-uuid", "1234"]
)
async def test_an_unknown_or_malformed_id_is_404(
    client: httpx.AsyncClient, image_id: str, suffix: str
) -> None:
    response = await client.get(f"/api/v1/images/{image_id}{suffix}")

    assert_problem(response, 404)
    assert response.json()["type"].endswith("image-not-found")


@pytest.mark.parametrize("projected", [True, False], ids=["projected", "not yet projected"])
@pytest.mark.parametrize("suffix", ["", "/original", "/status"])
async def test_a_deleted_image_is_404(
    client: httpx.AsyncClient, ports: FakePorts, suffix: str, projected: bool
) -> None:
    image_id = await upload(client)
    ports.commands.delete(DeleteImage(image_id=image_id))
    if projected:
        ports.project()

    response = await client.get(f"/api/v1/images/{image_id}{suffix}")

    assert response.status_code == 404


async def test_bytes_gone_from_the_blob_store_are_404(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client)
    await ports.blobs.delete(original_key(image_id))

    response = await client.get(f"/api/v1/images/{image_id}/original")

    assert_problem(response, 404)


async def test_an_unreachable_blob_store_is_503_not_a_broken_stream(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client)
    ports.project()
    ports.blobs.failing = {"stream"}

    response = await client.get(f"/api/v1/images/{image_id}")

    assert_problem(response, 503)


async def test_the_event_history_lists_every_event_in_its_envelope(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    image_id = await upload(client, "grayscale")
    await complete(ports, image_id)
    ports.commands.delete(DeleteImage(image_id=image_id))

    response = await client.get(f"/api/v1/images/{image_id}/events")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(image_id)
    events = body["events"]
    assert [e["type"] for e in events] == [
        "ImageUploaded",
        "ProcessingRequested",
        "ProcessingCompleted",
        "ImageDeleted",
    ]
    assert [e["version"] for e in events] == [1, 2, 3, 4]
    assert [e["position"] for e in events] == [e.position for e in ports.log.history(image_id)]
    assert {e["image_id"] for e in events} == {str(image_id)}
    assert events[1]["data"]["spec"] == "grayscale"
    assert events[0]["data"]["original_key"] == original_key(image_id)
    assert all("occurred_at" in e for e in events)
