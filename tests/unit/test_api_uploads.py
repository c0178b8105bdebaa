"""POST /api/v1/images: an upload is checked before anything is stored or recorded."""

from __future__ import annotations

import struct
import zlib
from typing import Any
from uuid import UUID

import httpx
import pytest

from commands.errors import EventStoreUnavailable
from domain import events as ev
from domain.keys import original_key
from tests.fakes import FakePorts, api_limits, image_bytes
from tests.unit.client import assert_problem

LIMIT = 64 * 1024


@pytest.fixture(name="api_limits")
def small_api_limits() -> dict[str, Any]:
    return api_limits(max_pixels=1_000_000, max_upload_bytes=LIMIT)


async def upload(
    client: httpx.AsyncClient,
    data: bytes,
    processing: str | None = None,
    file_name: str = "photo.png",
) -> httpx.Response:
    form = {"processing": processing} if processing is not None else {}
    files = {"image": (file_name, data, "application/octet-stream")}
    return await client.post("/api/v1/images", files=files, data=form)


def pixel_bomb() -> bytes:
    """A tiny PNG whose header claims 100000 x 100000 pixels."""
    png = image_bytes(8, 8)
    chunk = b"IHDR" + struct.pack(">II", 100_000, 100_000) + png[24:29]
    header = struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return png[:8] + header + png[33:]


def assert_nothing_changed(ports: FakePorts) -> None:
    assert ports.log.head() == 0
    assert ports.blobs.objects == {}


async def test_an_upload_is_stored_recorded_and_answered_with_its_location(
    client: httpx.AsyncClient, ports: FakePorts, rings: list[None]
) -> None:
    jpeg = image_bytes(64, 48, "JPEG")

    response = await upload(client, jpeg, file_name="holiday.jpg")

    assert response.status_code == 202
    body = response.json()
    image_id = UUID(body["id"])
    assert (body["status"], body["version"]) == ("uploaded", 1)
    assert response.headers["location"] == f"/api/v1/images/{image_id}"
    assert response.headers["image-version"] == "1"
    assert ports.blobs.objects[original_key(image_id)] == (jpeg, "image/jpeg")
    [uploaded] = ports.log.history(image_id)
    assert uploaded.data == ev.ImageUploaded(
        file_name="holiday.jpg",
        content_type="image/jpeg",
        size=len(jpeg),
        width=64,
        height=48,
        original_key=original_key(image_id),
    )
    assert len(rings) == 1, "the event-log followers are woken"


async def test_an_upload_with_a_spec_asks_for_processing_in_canonical_form(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    response = await upload(client, image_bytes(), processing="RESIZE:100x100 | grayscale")

    assert response.status_code == 202
    assert (response.json()["status"], response.json()["version"]) == ("processing", 2)
    _uploaded, requested = ports.log.history(UUID(response.json()["id"]))
    assert requested.data == ev.ProcessingRequested(request_no=1, spec="resize:100x100|grayscale")


async def test_a_blank_spec_means_no_processing(client: httpx.AsyncClient) -> None:
    response = await upload(client, image_bytes(), processing="  ")

    assert response.status_code == 202
    assert response.json()["status"] == "uploaded"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\cat.png", "cat.png"),
        ("bad\r\nname.png", "badname.png"),
        ("..", "image"),
    ],
)
async def test_the_file_name_is_kept_without_its_path_or_control_characters(
    client: httpx.AsyncClient, ports: FakePorts, given: str, kept: str
) -> None:
    response = await upload(client, image_bytes(), file_name=given)

    [uploaded] = ports.log.history(UUID(response.json()["id"]))
    assert isinstance(uploaded.data, ev.ImageUploaded)
    assert uploaded.data.file_name == kept


@pytest.mark.parametrize(
    ("data", "status", "problem_type"),
    [
        (b"this is plain text, not an image", 415, "unsupported-image"),
        (b"", 400, "empty-image"),
        (pixel_bomb(), 422, "too-many-pixels"),
        (image_bytes(64, 64)[:20], 422, "corrupt-image"),
    ],
    ids=["not an image", "empty", "pixel bomb", "truncated header"],
)
async def test_a_bad_file_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, ports: FakePorts, data: bytes, status: int, problem_type: str
) -> None:
    response = await upload(client, data)

    assert_problem(response, status)
    assert response.json()["type"].endswith(problem_type)
    assert_nothing_changed(ports)


async def test_a_file_over_the_limit_is_refused_with_413(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    too_big = image_bytes(8, 8) + b"\0" * (LIMIT + 1)

    response = await upload(client, too_big)

    assert_problem(response, 413)
    assert str(LIMIT) in response.json()["detail"]
    assert_nothing_changed(ports)


async def test_a_body_far_over_the_limit_is_refused_before_it_is_read(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    response = await upload(client, b"\0" * (LIMIT * 3))

    assert_problem(response, 413)
    assert response.json()["type"].endswith("image-too-large")
    assert response.json()["limit"] == LIMIT
    assert_nothing_changed(ports)


async def test_a_bad_spec_is_refused_naming_the_token(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    response = await upload(client, image_bytes(), processing="resize:100x100|explode:3")

    assert response.status_code == 400
    problem = response.json()
    assert problem["token"] == "explode"
    assert "explode" in problem["detail"]
    assert_nothing_changed(ports)


async def test_a_form_without_an_image_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/images", files={"processing": (None, "resize:10x10")})

    assert_problem(response, 400)


def form_with_processing(spec: bytes) -> bytes:
    """A multipart body with an image and the raw bytes of a `processing` field."""
    return (
        b"--form\r\n"
        b'Content-Disposition: form-data; name="image"; filename="cat.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + image_bytes() + b"\r\n"
        b"--form\r\n"
        b'Content-Disposition: form-data; name="processing"\r\n\r\n' + spec + b"\r\n"
        b"--form--\r\n"
    )


async def test_a_form_field_that_is_not_utf8_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    response = await client.post(
        "/api/v1/images",
        content=form_with_processing(b"\xff\xfe"),
        headers={"Content-Type": "multipart/form-data; boundary=form"},
    )

    assert_problem(response, 400)
    assert "UTF-8" in response.json()["detail"]
    assert_nothing_changed(ports)


async def test_an_image_sent_without_a_file_name_is_a_400_not_a_server_error(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    # With an empty filename the part is read as a text field, and JPEG bytes are no text.
    response = await upload(client, image_bytes(16, 16, "JPEG"), file_name="")

    assert_problem(response, 400)
    assert_nothing_changed(ports)


async def test_when_the_blob_store_is_down_the_upload_gets_503_and_nothing_is_recorded(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    ports.blobs.failing = {"put"}

    response = await upload(client, image_bytes())

    assert_problem(response, 503)
    assert "retry-after" in response.headers
    assert_nothing_changed(ports)


async def test_when_recording_fails_the_stored_original_is_removed_again(
    client: httpx.AsyncClient, ports: FakePorts, monkeypatch: pytest.MonkeyPatch, rings: list[None]
) -> None:
    def unavailable(*args: object) -> None:
        raise EventStoreUnavailable("connection refused by db.internal:5432")

    monkeypatch.setattr(ports.commands, "upload", unavailable)

    response = await upload(client, image_bytes())

    assert response.status_code == 503
    assert "db.internal" not in response.text, "driver messages stay in the log"
    assert_nothing_changed(ports)
    assert rings == []
