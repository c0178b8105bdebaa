"""POST /api/v1/images: an upload is checked before anything is stored or recorded."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from PIL import Image

from api.uploads import FIELD_BYTES
from commands.errors import EventStoreUnavailable
from domain import events as ev
from domain.keys import original_key
from tests.fakes import FakePorts, api_limits, image_bytes
from tests.unit.client import assert_problem

LIMIT = 64 * 1024
SPOOL_BYTES = 4 * 1024  # an upload past this goes to disk


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture(name="api_limits")
def small_api_limits(spool_dir: Path) -> dict[str, Any]:
    limits = api_limits(max_pixels=1_000_000, max_upload_bytes=LIMIT)
    return {**limits, "spool_bytes": SPOOL_BYTES, "spool_dir": spool_dir}


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


def noisy_png(width: int = 80, height: int = 80) -> bytes:
    """A PNG that hardly compresses: about 3 bytes a pixel."""
    noise = Image.merge("RGB", [Image.effect_noise((width, height), 80) for _ in range(3)])
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    return buffer.getvalue()


def assert_nothing_changed(ports: FakePorts) -> None:
    assert ports.log.head() == 0
    assert ports.blobs.objects == {}


def spooled_files(spool_dir: Path) -> list[Path] | None:
    """What the spool directory holds; None when no upload made it."""
    return list(spool_dir.iterdir()) if spool_dir.exists() else None


async def test_an_upload_is_stored_recorded_and_answered_with_its_location(
    client: httpx.AsyncClient, ports: FakePorts
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


async def test_an_upload_past_the_memory_budget_is_spooled_to_disk_and_stored_whole(
    client: httpx.AsyncClient, ports: FakePorts, spool_dir: Path
) -> None:
    png = noisy_png()
    assert SPOOL_BYTES * 4 < len(png) < LIMIT

    response = await upload(client, png)

    assert response.status_code == 202
    image_id = UUID(response.json()["id"])
    assert ports.blobs.objects[original_key(image_id)] == (png, "image/png")
    [uploaded] = ports.log.history(image_id)
    assert isinstance(uploaded.data, ev.ImageUploaded)
    assert (uploaded.data.size, uploaded.data.width) == (len(png), 80)
    assert spooled_files(spool_dir) == [], "it went through the spool, which is empty again"


async def test_the_spec_may_come_before_the_image_and_other_fields_are_ignored(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    response = await client.post(
        "/api/v1/images",
        files=[
            ("processing", (None, "grayscale")),
            ("comment", (None, "a field we do not know")),
            ("image", ("cat.png", image_bytes(), "image/png")),
        ],
    )

    assert response.status_code == 202
    _uploaded, requested = ports.log.history(UUID(response.json()["id"]))
    assert requested.data == ev.ProcessingRequested(request_no=1, spec="grayscale")


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
    client: httpx.AsyncClient, ports: FakePorts, spool_dir: Path
) -> None:
    too_big = image_bytes(8, 8) + b"\0" * (LIMIT + 1)

    response = await upload(client, too_big)

    assert_problem(response, 413)
    assert str(LIMIT) in response.json()["detail"]
    assert_nothing_changed(ports)
    assert not spooled_files(spool_dir)


async def test_a_bad_file_past_the_memory_budget_leaves_no_spooled_file(
    client: httpx.AsyncClient, ports: FakePorts, spool_dir: Path
) -> None:
    not_an_image = b"plain text, " * (SPOOL_BYTES // 4)

    response = await upload(client, not_an_image)

    assert_problem(response, 415)
    assert_nothing_changed(ports)
    assert spooled_files(spool_dir) == []


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


@pytest.mark.parametrize(
    "files",
    [
        [("image", ("a.png", image_bytes(), "image/png"))] * 2,
        [
            ("image", ("a.png", image_bytes(), "image/png")),
            ("processing", (None, "x" * (FIELD_BYTES + 1))),
        ],
        [("image", ("a.png", image_bytes(), "image/png"))]
        + [("processing", (None, "grayscale"))] * 2,
    ],
    ids=["two images", "a spec over 64 KiB", "two specs"],
)
async def test_a_form_of_another_shape_is_a_validation_problem(
    client: httpx.AsyncClient, ports: FakePorts, files: list[tuple[str, Any]]
) -> None:
    response = await client.post("/api/v1/images", files=files)

    assert_problem(response, 400)
    assert response.json()["errors"][0]["key"] in ("image", "processing")
    assert_nothing_changed(ports)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"image": "cat.png"}', "application/json"),
        (b"--form\r\nnot a part", "multipart/form-data; boundary=form"),
        (b"", "multipart/form-data; boundary=form"),
        (b"--form--\r\n", "multipart/form-data"),
    ],
    ids=["json", "broken multipart", "empty body", "no boundary"],
)
async def test_a_body_that_is_not_a_multipart_form_is_a_400(
    client: httpx.AsyncClient, ports: FakePorts, content: bytes, content_type: str
) -> None:
    response = await client.post(
        "/api/v1/images", content=content, headers={"Content-Type": content_type}
    )

    assert_problem(response, 400)
    assert_nothing_changed(ports)


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


async def test_the_api_document_describes_the_upload_form(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()

    body = document["paths"]["/api/v1/images"]["post"]["requestBody"]
    form = body["content"]["multipart/form-data"]["schema"]
    assert body["required"] is True
    assert form["required"] == ["image"]
    assert form["properties"]["image"]["format"] == "binary"
    assert form["properties"]["processing"]["type"] == "string"


async def test_when_the_blob_store_is_down_the_upload_gets_503_and_nothing_is_recorded(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    ports.blobs.failing = {"put_file"}

    response = await upload(client, image_bytes())

    assert_problem(response, 503)
    assert "retry-after" in response.headers
    assert_nothing_changed(ports)


async def test_when_recording_fails_the_stored_original_is_removed_again(
    client: httpx.AsyncClient, ports: FakePorts, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*args: object) -> None:
        raise EventStoreUnavailable("connection refused by db.internal:5432")

    monkeypatch.setattr(ports.commands, "upload", unavailable)

    response = await upload(client, image_bytes())

    assert response.status_code == 503
    assert "db.internal" not in response.text, "driver messages stay in the log"
    assert_nothing_changed(ports)
