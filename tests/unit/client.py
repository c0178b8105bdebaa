"""What the tests of the HTTP API do as a client: upload, finish processing, read problems."""

from __future__ import annotations

from uuid import UUID

import httpx

from commands.messages import CompleteProcessing
from domain.facts import Picture
from domain.keys import result_key
from tests.fakes import FakePorts, image_bytes

PROBLEM = "application/problem+json"
ORIGINAL = image_bytes(40, 30)
RESULT = image_bytes(20, 15, "GIF")


async def upload(client: httpx.AsyncClient, processing: str | None = None) -> UUID:
    """Upload ORIGINAL as cat.png, with a processing spec if one is given."""
    image_id, _version = await upload_versioned(client, processing)
    return image_id


async def upload_versioned(
    client: httpx.AsyncClient, processing: str | None = None
) -> tuple[UUID, int]:
    """Upload as `upload` does; the id, and the version the 202 answered with."""
    form = {"processing": processing} if processing else {}
    files = {"image": ("cat.png", ORIGINAL, "image/png")}
    response = await client.post("/api/v1/images", files=files, data=form)
    assert response.status_code == 202
    return UUID(response.json()["id"]), int(response.headers["image-version"])


async def complete(ports: FakePorts, image_id: UUID) -> str:
    """Finish the first processing request with RESULT, as a processor would; its key."""
    key = result_key(image_id, "0123456789abcdef", "gif")
    await ports.blobs.put(key, RESULT, "image/gif")
    ports.commands.complete_processing(
        CompleteProcessing(
            image_id=image_id,
            request_no=1,
            result_key=key,
            result=Picture(content_type="image/gif", size=len(RESULT), width=20, height=15),
        )
    )
    return key


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
