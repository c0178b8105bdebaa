"""GET /metrics: what operators scrape. The registry is per process, so every test
compares a value before and after what it does."""

from __future__ import annotations

from uuid import uuid4

import httpx
from prometheus_client import REGISTRY

from tests.fakes import image_bytes

IMAGE_ROUTE = "/api/v1/images/{image_id}/status"


def requests_seen(path: str, status: int, method: str = "GET") -> float:
    labels = {"method": method, "path": path, "status_code": str(status), "app_name": "imgproc"}
    return REGISTRY.get_sample_value("imgproc_http_requests_total", labels) or 0.0


def uploads_accepted() -> float:
    return REGISTRY.get_sample_value("imgproc_images_uploaded_total") or 0.0


async def test_metrics_answer_in_the_prometheus_text_format(client: httpx.AsyncClient) -> None:
    await client.get("/health")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "imgproc_images_uploaded_total" in response.text
    assert "imgproc_processing_duration_seconds_bucket" in response.text


async def test_requests_are_counted_by_route_template_not_by_image_id(
    client: httpx.AsyncClient,
) -> None:
    image_id = uuid4()
    before = requests_seen(IMAGE_ROUTE, 404)

    await client.get(f"/api/v1/images/{image_id}/status")

    assert requests_seen(IMAGE_ROUTE, 404) == before + 1
    scraped = (await client.get("/metrics")).text
    assert f'path="{IMAGE_ROUTE}"' in scraped
    assert str(image_id) not in scraped


async def test_probes_and_scrapes_are_not_counted_as_traffic(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    await client.get("/ready")
    await client.get("/metrics")

    scraped = (await client.get("/metrics")).text

    for path in ("/health", "/ready", "/metrics"):
        assert f'path="{path}"' not in scraped


async def test_an_accepted_upload_is_counted(client: httpx.AsyncClient) -> None:
    before = uploads_accepted()
    files = {"image": ("photo.png", image_bytes(16, 16), "application/octet-stream")}

    response = await client.post("/api/v1/images", files=files)

    assert response.status_code == 202
    assert uploads_accepted() == before + 1
    assert requests_seen("/api/v1/images", 202, method="POST") >= 1


async def test_a_refused_upload_is_not_counted(client: httpx.AsyncClient) -> None:
    before = uploads_accepted()
    files = {"image": ("photo.png", b"not an image", "application/octet-stream")}

    response = await client.post("/api/v1/images", files=files)

    assert response.status_code == 415
    assert uploads_accepted() == before


async def test_the_metrics_endpoint_stays_out_of_the_api_document(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert "/metrics" not in document["paths"]
