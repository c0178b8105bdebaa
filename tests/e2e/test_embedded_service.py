"""Stories of a REST client against `imgproc dev`."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
from PIL import Image

from tests.e2e.conftest import Service
from tests.waiting import wait_until


def jpeg(width: int, height: int, color: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def upload(client: httpx.Client, data: bytes, processing: str | None = None, name: str = "a.jpg"):
    form = {"processing": processing} if processing is not None else {}
    return client.post("/api/v1/images", files={"image": (name, data, "image/jpeg")}, data=form)


def wait_for(
    client: httpx.Client, image_id: str, *statuses: str, spec: str | None = None
) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        response = client.get(f"/api/v1/images/{image_id}/status")
        body = response.json()
        if (
            response.status_code == 200
            and body["status"] in statuses
            and (spec is None or body["spec"] == spec)
        ):
            return body
        assert time.monotonic() < deadline, f"still {response.json()} after 10 s"
        time.sleep(0.05)


def test_upload_resize_fetch_delete(service: Service) -> None:
    original = jpeg(400, 300)
    with service.client() as client:
        accepted = upload(client, original, "resize:100x100")
        assert accepted.status_code == 202, accepted.text
        image_id = accepted.json()["id"]
        assert accepted.headers["location"].endswith(f"/api/v1/images/{image_id}")

        status = wait_for(client, image_id, "processed", "failed")
        assert status["status"] == "processed", status

        result = client.get(f"/api/v1/images/{image_id}")
        assert result.status_code == 200
        assert result.headers["etag"]
        assert "cache-control" in result.headers
        with Image.open(io.BytesIO(result.content)) as processed:
            assert processed.size == (100, 75)  # fits inside 100x100, aspect kept

        assert client.get(f"/api/v1/images/{image_id}/original").content == original

        deleted = client.delete(f"/api/v1/images/{image_id}")
        assert deleted.status_code == 200
        version = deleted.json()["version"]
        assert deleted.json() == {"message": "Image deleted successfully", "version": version}
        assert deleted.headers["image-version"] == str(version)
        # The deleting client, carrying the version, reads 404 at once.
        for path in ("", "/status", "/original"):
            url = f"/api/v1/images/{image_id}{path}"
            assert client.get(url, params={"min_version": version}).status_code == 404
        # Others too, as soon as the projection has the deletion.
        deadline = time.monotonic() + 10
        while client.get(f"/api/v1/images/{image_id}/status").status_code != 404:
            assert time.monotonic() < deadline, "still readable 10 s after deletion"
            time.sleep(0.02)

        blobs = service.data_dir / "blobs" / "images" / image_id
        deadline = time.monotonic() + 10
        while blobs.exists():
            assert time.monotonic() < deadline, "the janitor left the blobs behind"
            time.sleep(0.05)


def test_reprocessing_with_a_new_spec(service: Service) -> None:
    with service.client() as client:
        image_id = upload(client, jpeg(300, 300), "grayscale").json()["id"]
        wait_for(client, image_id, "processed")
        again = client.post(
            f"/api/v1/images/{image_id}/process", json={"processing": "resize:50x50|format:png"}
        )
        assert again.status_code == 202
        wait_for(client, image_id, "processed", spec="resize:50x50|format:png")
        result = client.get(f"/api/v1/images/{image_id}")
        assert result.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(result.content)) as processed:
            assert processed.size == (50, 50)


def test_an_image_broken_past_its_header_fails_with_a_reason(service: Service) -> None:
    whole = jpeg(800, 600, "orange")
    truncated = whole[: len(whole) // 3]
    with service.client() as client:
        accepted = upload(client, truncated, "grayscale")
        assert accepted.status_code == 202, accepted.text
        status = wait_for(client, accepted.json()["id"], "processed", "failed")
        assert status["status"] == "failed"
        assert status["error"]
        assert client.get(f"/api/v1/images/{accepted.json()['id']}").status_code == 409


def test_bad_input_gets_a_clear_error_and_records_nothing(service: Service) -> None:
    png_bomb_header = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00"
    )
    cases = [
        (b"just some text, not an image", "grayscale", 415),
        (b"", "grayscale", 400),
        (png_bomb_header, None, 422),
        (jpeg(64, 64), "frobnicate:3", 400),
        (jpeg(64, 64), "resize:axb", 400),
    ]
    with service.client() as client:
        before = client.get("/api/v1/images", params={"limit": 100}).json()["items"]
        for data, spec, expected in cases:
            response = upload(client, data, spec)
            assert response.status_code == expected, (spec, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            problem = response.json()
            assert problem["status"] == expected and problem["title"]
            assert "Traceback" not in response.text
        assert "frobnicate" in upload(client, jpeg(8, 8), "frobnicate:3").json()["detail"]
        # An accepted upload after them: once the list shows it, the projection has
        # caught up with everything recorded before, which must be nothing else.
        marker = upload(client, jpeg(8, 8)).json()["id"]

        def listed() -> list[dict[str, Any]] | None:
            items = client.get("/api/v1/images", params={"limit": 100}).json()["items"]
            return items if any(item["id"] == marker for item in items) else None

        after = wait_until(listed, "the last upload to be listed")
        assert [item for item in after if item["id"] != marker] == before


def test_unknown_malformed_and_deleted_ids(service: Service) -> None:
    with service.client() as client:
        assert client.get("/api/v1/images/00000000-0000-0000-0000-000000000000").status_code == 404
        assert client.get("/api/v1/images/not-a-uuid/status").status_code == 404
        image_id = upload(client, jpeg(20, 20)).json()["id"]
        assert client.delete(f"/api/v1/images/{image_id}").status_code == 200
        assert client.delete(f"/api/v1/images/{image_id}").status_code == 404
        again = client.post(f"/api/v1/images/{image_id}/process", json={"processing": "grayscale"})
        assert again.status_code == 409


def test_history_and_openapi(service: Service) -> None:
    with service.client() as client:
        image_id = upload(client, jpeg(40, 40), "grayscale").json()["id"]
        wait_for(client, image_id, "processed")
        history = client.get(f"/api/v1/images/{image_id}/events").json()
        types = [e["type"] for e in history["events"]]
        assert types == ["ImageUploaded", "ProcessingRequested", "ProcessingCompleted"]
        assert [e["version"] for e in history["events"]] == [1, 2, 3]
        assert client.get("/schema/openapi.json").status_code == 200
