"""Reads and the wake-up after an upload, each against a baseline in the same run.

Status GET: `GET /api/v1/images/{id}/status` of one processed image under wrk
(CONNECTIONS connections, one wrk thread) against `imgproc dev`, on SQLite and then on
PostgreSQL (a fresh database on 127.0.0.1:5432). Beside it, under the same server
(uvicorn, as the service runs it), a bare Litestar handler (bench/_bare_reads.py)
reads one row of the same shape from the same database (sqlite3; psycopg's async
pool) and answers the same JSON. Both servers stay up; the two take turns, ours, bare,
bare, ours, ROUND_SECONDS each after a warm-up, so drift weighs on both alike. Figures:
req/s and p99 (means of the two turns), and ours/bare req/s. Targets (issue 9): at
least 0.8x the bare handler, p99 at most 20 ms.

Upload -> processed: one client (httpx) uploads a 2 MP photo-like JPEG (1632x1224, q90)
with `resize:256x256` to `imgproc dev` (embedded), waits for its result, then renders
the same spec on the same bytes in this process (workers.imaging.render: the processing
itself), UPLOADS times. Latency runs from sending the upload to the ProcessingCompleted
event's own timestamp (client and service share the clock), so waiting for the result
is not timed. Target: the latency's p50 at most the processing time's p50 + 10 ms.

    .venv/bin/python -m bench reads      (or: task bench -- reads)
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench._bare_reads import create_table, put_row
from bench._service import (
    ROOT,
    curl_uploads,
    imgproc_dev,
    photo_jpeg,
    running,
    upload_latency,
    wait_http,
    wait_processed,
    wrk,
)
from infra.settings import Settings
from tests.servers import free_port, postgres_database

CONNECTIONS = 16
ROUND_SECONDS = 5.0
WARM_UP_SECONDS = 1.0
SIZE = (1632, 1224)  # 2.0 megapixels
SPEC = "resize:256x256"
UPLOADS = 30


@dataclass(frozen=True)
class Reads:
    database: str
    ours: tuple[float, float]  # req/s, p99 seconds
    bare: tuple[float, float]


@contextlib.contextmanager
def bare_server(database: str, work: Path, path: str) -> Iterator[str]:
    """The bare handler under uvicorn, configured as the service configures it; yields
    its base URL once `path` answers."""
    port = free_port()
    env = os.environ | {"BENCH_BARE_DATABASE": database}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench._bare_reads:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--lifespan", "on", "--log-level", "warning"]
    log = work / "bare.log"
    with running(command, log, env) as process:
        base_url = f"http://127.0.0.1:{port}"
        wait_http(base_url + path, process, "the bare handler", log)
        yield base_url


def processed_image(client: httpx.Client, base_url: str, original: Path) -> dict[str, Any]:
    """The status body of one uploaded and processed image, as the read model has it."""
    (image,) = curl_uploads(base_url, original, 1, 1, spec=SPEC)
    wait_processed(client, [image])
    deadline = time.monotonic() + 60
    while True:
        response = client.get(f"/api/v1/images/{image}/status")
        if response.status_code == 200 and response.json()["status"] == "processed":
            body: dict[str, Any] = response.json()
            return body
        if time.monotonic() > deadline:
            raise TimeoutError(f"status of {image} not processed: {response.text}")
        time.sleep(0.1)


def status_reads(name: str, base_url: str, database: str, original: Path, work: Path) -> Reads:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        status = processed_image(client, base_url, original)
    create_table(database)
    put_row(database, status)
    path = f"/api/v1/images/{status['id']}/status"
    with bare_server(database, work, path) as bare_url:
        _same_shape(httpx.get(bare_url + path).json(), status)
        urls = {"ours": base_url + path, "bare": bare_url + path}
        for url in urls.values():
            wrk(url, WARM_UP_SECONDS, CONNECTIONS)
        turns: dict[str, list[tuple[float, float]]] = {"ours": [], "bare": []}
        for side in ("ours", "bare", "bare", "ours"):
            turns[side].append(wrk(urls[side], ROUND_SECONDS, CONNECTIONS))
    ours, bare = (tuple(map(statistics.fmean, zip(*turns[s], strict=True))) for s in turns)
    return Reads(name, (ours[0], ours[1]), (bare[0], bare[1]))


def _same_shape(bare: dict[str, Any], ours: dict[str, Any]) -> None:
    """The bare handler answers what the service answers (times compared as times)."""
    times = ("created_at", "updated_at")
    same = {k: v for k, v in bare.items() if k not in times} == {
        k: v for k, v in ours.items() if k not in times
    } and all(datetime.fromisoformat(bare[k]) == datetime.fromisoformat(ours[k]) for k in times)
    if not same:
        raise RuntimeError(f"the bare handler answers {bare}, the service {ours}")


def report(reads: list[Reads], latencies: list[float], renders: list[float]) -> None:
    print(
        f"GET …/status, wrk {CONNECTIONS} connections, turns ours/bare/bare/ours of "
        f"{ROUND_SECONDS:g} s; bare: one-row Litestar handler, same database and server"
    )
    print(
        f"{'database':10} {'ours req/s':>10} {'p99 ms':>7} {'bare req/s':>10} {'p99 ms':>7} "
        f"{'ratio':>6}   targets: ratio >= 0.80, ours p99 <= 20 ms"
    )
    for r in reads:
        print(
            f"{r.database:10} {r.ours[0]:10.0f} {r.ours[1] * 1000:7.1f} {r.bare[0]:10.0f} "
            f"{r.bare[1] * 1000:7.1f} {r.ours[0] / r.bare[0]:6.2f}"
        )
    p50, processing = statistics.median(latencies), statistics.median(renders)
    p95 = statistics.quantiles(latencies, n=20)[18]
    print(
        f"upload -> processed, 2 MP JPEG -> {SPEC}, one client, embedded, {UPLOADS} uploads: "
        f"p50 {p50 * 1000:.1f} ms (p95 {p95 * 1000:.1f} ms); the processing itself "
        f"p50 {processing * 1000:.1f} ms; overhead {(p50 - processing) * 1000:+.1f} ms "
        "(target <= +10 ms)"
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-reads-") as scratch:
        work = Path(scratch)
        data = photo_jpeg(SIZE)
        original = work / "photo2mp.jpg"
        original.write_bytes(data)
        reads = []
        embedded = work / "sqlite"
        with imgproc_dev(embedded) as base_url:
            database = str(Settings(data_dir=embedded).sqlite_path)
            reads.append(status_reads("sqlite", base_url, database, original, embedded))
            latencies, renders = upload_latency(base_url, data, SPEC, UPLOADS)
        with postgres_database() as url, imgproc_dev(work / "pg", database_url=url) as base_url:
            reads.append(status_reads("postgres", base_url, url, original, work / "pg"))
    report(reads, latencies, renders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
