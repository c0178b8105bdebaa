"""Stories of a REST client against the production topology: api, two processors, a
projector, the relay and the janitor, each its own OS process, on PostgreSQL, a
Kafka-compatible broker and S3."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from PIL import Image
from psycopg.conninfo import conninfo_to_dict

from infra.migrate import upgrade
from infra.settings import Settings
from tests.e2e.production import (
    Proxy,
    Servers,
    Topology,
    imgproc,
    production_env,
    production_servers,
)
from tests.servers import closed_port, moto_server

UPLOADS = 50
DELETED = 10
WITHIN = 60.0  # seconds for the whole batch to be processed


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    """The servers, with the database migrated (as `imgproc migrate` does before a release)."""
    with production_servers() as started:
        upgrade(Settings(database_url=started.database_url))
        yield started


@pytest.fixture(scope="module")
def topology(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with Topology(servers, tmp_path_factory.mktemp("production")) as running:
        running.start_every_role()  # migrating again: it finds nothing to do
        yield running
        logs = running.logs()
        exits = running.stop_all()
    assert exits == dict.fromkeys(exits, 0), f"not all stopped cleanly on SIGTERM:\n{logs}"


def jpeg(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (shade % 256, 90, 160)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def upload(base_url: str, n: int) -> str:
    form = {"processing": "resize:100x100"}
    files = {"image": (f"{n}.jpg", jpeg(n), "image/jpeg")}
    response = httpx.post(f"{base_url}/api/v1/images", files=files, data=form, timeout=30)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def wait_for_all(client: httpx.Client, ids: list[str], *statuses: str) -> dict[str, str]:
    deadline = time.monotonic() + WITHIN
    while True:
        seen = {i: client.get(f"/api/v1/images/{i}/status").json().get("status") for i in ids}
        if all(status in statuses for status in seen.values()):
            return seen
        assert time.monotonic() < deadline, f"still waiting: {sorted(set(seen.values()))}"
        time.sleep(0.25)


def history(client: httpx.Client, image_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client.get(f"/api/v1/images/{image_id}/events").json()["events"]
    return events


def test_every_upload_is_processed_exactly_once_and_deleted_blobs_leave_s3(
    topology: Topology,
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda n: upload(topology.base_url, n), range(UPLOADS)))

    with httpx.Client(base_url=topology.base_url, timeout=10) as client:
        statuses = wait_for_all(client, ids, "processed", "failed")
        assert set(statuses.values()) == {"processed"}, topology.logs()
        for image_id in ids:
            types = [event["type"] for event in history(client, image_id)]
            assert types == ["ImageUploaded", "ProcessingRequested", "ProcessingCompleted"]
        result = client.get(f"/api/v1/images/{ids[0]}")
        with Image.open(io.BytesIO(result.content)) as image:
            assert image.size == (100, 75)

        doomed, kept = ids[:DELETED], ids[DELETED:]
        versions = {}
        for image_id in doomed:
            deleted = client.delete(f"/api/v1/images/{image_id}")
            assert deleted.status_code == 200
            versions[image_id] = deleted.headers["image-version"]

        deadline = time.monotonic() + WITHIN
        while any(topology.blob_keys(f"images/{image_id}/") for image_id in doomed):
            assert time.monotonic() < deadline, "the janitor left blobs behind"
            time.sleep(0.25)
        # Read-your-writes: carrying the deletion's version, the deleting client reads 404.
        for image_id, version in versions.items():
            response = client.get(
                f"/api/v1/images/{image_id}", headers={"Min-Image-Version": version}
            )
            assert response.status_code == 404
        assert all(len(topology.blob_keys(f"images/{i}/")) == 2 for i in kept)


@pytest.mark.parametrize(
    ("command", "down", "dependency"),
    [
        ("api", "DB_PORT", "postgres"),
        ("process", "DB_PORT", "postgres"),
        ("relay", "DB_PORT", "postgres"),
        ("process", "KAFKA_BROKERS", "kafka"),
        ("api", "MINIO_PORT", "s3"),
    ],
)
def test_a_dependency_down_at_start_is_one_line_and_a_non_zero_exit(
    servers: Servers, tmp_path: Path, command: str, down: str, dependency: str
) -> None:
    nowhere = str(closed_port())
    env = production_env(servers, tmp_path)
    env[down] = f"127.0.0.1:{nowhere}" if down == "KAFKA_BROKERS" else nowhere

    done = subprocess.run(imgproc(command), env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"imgproc: {dependency} is unavailable:"), done.stderr
    assert "Traceback" not in done.stderr


def test_s3_down_gives_503_and_records_nothing(servers: Servers, tmp_path: Path) -> None:
    s3 = contextlib.ExitStack()
    endpoint = s3.enter_context(moto_server())
    with s3, Topology(dataclasses.replace(servers, s3_endpoint=endpoint), tmp_path) as alone:
        alone.start("api")
        alone.wait_until_serving()
        s3.close()  # S3 goes away under the running api
        recorded = count_events(servers)
        started = time.monotonic()

        files = {"image": ("a.jpg", jpeg(1), "image/jpeg")}
        response = httpx.post(f"{alone.base_url}/api/v1/images", files=files, timeout=30)

        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert time.monotonic() - started < 10
        assert count_events(servers) == recorded


def count_events(servers: Servers) -> int:
    with psycopg.connect(servers.database_url) as connection:
        row = connection.execute("SELECT count(*) FROM images_events").fetchone()
    assert row is not None
    return int(row[0])


def test_a_database_gone_while_serving_gives_503_within_seconds(
    servers: Servers, tmp_path: Path
) -> None:
    database = conninfo_to_dict(servers.database_url)
    proxy = Proxy(int(database["port"]))
    with Topology(servers, tmp_path, DB_PORT=str(proxy.port)) as alone:
        alone.start("api")
        alone.wait_until_serving()
        proxy.cut()
        recorded = count_events(servers)

        started = time.monotonic()
        files = {"image": ("a.jpg", jpeg(2), "image/jpeg")}
        response = httpx.post(f"{alone.base_url}/api/v1/images", files=files, timeout=30)
        took = time.monotonic() - started

        assert response.status_code == 503, response.text
        assert took < 8, f"503 after {took:.1f}s"
        assert httpx.get(f"{alone.base_url}/ready", timeout=30).status_code == 503
        assert count_events(servers) == recorded
