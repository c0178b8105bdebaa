"""Production topology against the embedded default, measured in one run.

Workload: 200 uploads of one 2 MP photo-like JPEG (1632x1224, q90), each asking for
`resize:256x256`, sent by 8 clients at once over HTTP.

    embedded    `imgproc dev`: one process, SQLite, local files, the log followed
    production  api, 2 processors, projector, relay and janitor as separate processes
                on PostgreSQL, a Kafka-compatible broker (tansu) and S3 (moto), as
                the end-to-end tests run them

Figures:
    throughput  uploads accepted per second (202s / time from the first request sent
                to the last answer)
    latency     from sending an upload to its ProcessingCompleted being recorded
                (the event's own timestamp; client and service share the clock),
                p50 and p95
    one client  then one client sends ONE_CLIENT uploads one at a time: the p50 of the
                same latency, against the p50 of the processing itself (the same
                rendering in the bench's process, right after each). Targets (issue
                9): at most the processing time + 10 ms embedded, + 40 ms on Kafka

Production figures are also given as ratios to the embedded ones (throughput: higher
is better; latency: lower is better). Both topologies share this machine with their
servers, so the ratios say more than the absolute numbers; moto, the S3 server here,
is itself a Python process competing for the same cores.

    .venv/bin/python -m bench production      (or: python -m bench.production)
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import httpx
from PIL import Image, ImageDraw, ImageFilter

from bench._service import upload_latency
from tests.e2e.production import Topology, production_servers
from tests.servers import free_port

UPLOADS = 200
CLIENTS = 8
SPEC = "resize:256x256"
SIZE = (1632, 1224)  # 2.0 megapixels
WITHIN = 600.0  # seconds for everything to be processed
ONE_CLIENT = 30


@dataclass(frozen=True)
class Figures:
    throughput: float  # uploads per second
    p50: float  # seconds
    p95: float
    one_client: float = 0.0  # latency p50 with one client, seconds
    processing: float = 0.0  # the processing itself, p50, seconds

    def alone(self, base_url: str, data: bytes) -> Figures:
        """These figures, and the latency of one client beside the processing time."""
        latencies, renders = upload_latency(base_url, data, SPEC, ONE_CLIENT)
        return replace(
            self, one_client=statistics.median(latencies), processing=statistics.median(renders)
        )


def photo() -> bytes:
    """A photo-like JPEG: a gradient with shapes and grain, so the codec has work."""
    rng = random.Random(7)
    image = Image.linear_gradient("L").resize(SIZE).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(SIZE[0]), rng.randrange(SIZE[1])
        r = rng.randrange(20, 200)
        fill = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    image = image.filter(ImageFilter.GaussianBlur(2))
    noise = Image.effect_noise(SIZE, 24).convert("RGB")
    image = Image.blend(image, noise, 0.15)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def measure(base_url: str, data: bytes) -> Figures:
    def upload(n: int) -> tuple[str, float]:
        sent = time.time()
        files = {"image": (f"{n}.jpg", data, "image/jpeg")}
        response = client.post("/api/v1/images", files=files, data={"processing": SPEC})
        if response.status_code != 202:
            raise RuntimeError(f"upload refused: {response.status_code} {response.text}")
        return str(response.json()["id"]), sent

    with httpx.Client(base_url=base_url, timeout=60) as client:
        started = time.time()
        with ThreadPoolExecutor(CLIENTS) as pool:
            sent_at = dict(pool.map(upload, range(UPLOADS)))
        throughput = UPLOADS / (time.time() - started)
        _wait_until_processed(client, set(sent_at))
        latencies = [completed(client, i) - sent for i, sent in sent_at.items()]
    cuts = statistics.quantiles(latencies, n=100)
    return Figures(throughput=throughput, p50=statistics.median(latencies), p95=cuts[94])


def _wait_until_processed(client: httpx.Client, ids: set[str]) -> None:
    deadline = time.monotonic() + WITHIN
    while True:
        done = _listed(client, "processed") | _listed(client, "failed")
        if ids <= done:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(ids - done)} uploads not processed in {WITHIN}s")
        time.sleep(0.5)


def _listed(client: httpx.Client, status: str) -> set[str]:
    found: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"status": status, "limit": 100}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get("/api/v1/images", params=params).json()
        found |= {item["id"] for item in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def completed(client: httpx.Client, image_id: str) -> float:
    events = client.get(f"/api/v1/images/{image_id}/events").json()["events"]
    done = [e for e in events if e["type"] in ("ProcessingCompleted", "ProcessingFailed")]
    return datetime.fromisoformat(done[0]["occurred_at"]).timestamp()


@contextlib.contextmanager
def embedded(work: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGPROC_")}
    command = [sys.executable, "-m", "cli", "dev", "--port", str(port), "--data-dir", str(work)]
    with (work / "dev.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, process)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("imgproc dev exited early")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError("imgproc dev not ready")


@contextlib.contextmanager
def production(work: Path) -> Iterator[str]:
    with production_servers() as servers, Topology(servers, work) as topology:
        topology.start_every_role()
        time.sleep(5)  # let the consumer groups settle, so joins are not measured
        yield topology.base_url


def report(base: Figures, prod: Figures) -> None:
    rows = [
        ("throughput (uploads/s)", base.throughput, prod.throughput),
        ("latency p50 (ms)", base.p50 * 1000, prod.p50 * 1000),
        ("latency p95 (ms)", base.p95 * 1000, prod.p95 * 1000),
    ]
    print(f"{UPLOADS} uploads of a 2 MP JPEG with {SPEC}, {CLIENTS} clients")
    print(f"{'':24}{'embedded':>10}{'production':>12}{'ratio':>8}")
    for name, embedded_value, production_value in rows:
        ratio = production_value / embedded_value
        print(f"{name:24}{embedded_value:10.1f}{production_value:12.1f}{ratio:8.2f}")
    print(f"one client, {ONE_CLIENT} uploads one at a time, p50 (ms):")
    for name, figures, target in (("embedded", base, 10), ("production", prod, 40)):
        overhead = (figures.one_client - figures.processing) * 1000
        print(
            f"  {name:11} upload -> processed {figures.one_client * 1000:6.1f}, the processing "
            f"itself {figures.processing * 1000:5.1f}, overhead {overhead:+6.1f} "
            f"(target <= +{target})"
        )


def main() -> int:
    data = photo()
    with tempfile.TemporaryDirectory(prefix="bench-production-") as scratch:
        work = Path(scratch)
        (work / "embedded").mkdir()
        (work / "production").mkdir()
        with embedded(work / "embedded") as base_url:
            base = measure(base_url, data).alone(base_url, data)
        with production(work / "production") as base_url:
            prod = measure(base_url, data).alone(base_url, data)
    report(base, prod)
    return 0


if __name__ == "__main__":
    sys.exit(main())
