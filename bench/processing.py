"""Processing: how many 12 MP images a second the processor renders, and where the time goes.

Job: a 12 MP photo-like JPEG (4000x3000, q90) -> thumbnail:256|format:jpeg,quality=80
(fit in 256x256, JPEG q80), the job of the thumbor comparison. 24 images a measurement.

1. Renders alone, in this process: the 24 jobs handed at once to the processor's render
   pools of 2 (worker processes, threads), against the bare Pillow calls on 2 processes
   (bench._imaging_jobs), the baseline. Rounds alternate; "vs bare" is the median of
   the per-round ratios.
2. Processing alone, embedded: `imgproc dev` with each pool, both running; the originals
   are stored first (no spec), then each round sends one `POST /api/v1/images/{id}/process`
   per image, by curl, 4 at once. A round's images/s runs from its first
   ProcessingRequested to its last ProcessingCompleted, by the events' own timestamps;
   its baseline is a round of the bare pipeline on 2 processes just before it, and "vs
   bare" the median of the rounds' ratios. The pools take turns.
   The breakdown per image comes from the service's imgproc_processing_stage_seconds:
   loading the aggregate, reading the original, the render as the processor waited for
   it (within it: waiting for a free worker, the hand-over, decoding, the operations,
   encoding), writing the result, recording the event. The stages of concurrent images
   overlap: they do not add up to the wall time. "busy" is the share of the workers'
   time spent rendering.

    .venv/bin/python -m bench processing
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx

from bench._imaging_jobs import implementation, photo, simd_build
from domain.spec import parse_spec
from infra.settings import Settings
from tests.servers import free_port
from workers.processor import Renders, ThreadRenders, renderer_for
from workers.render_pool import RenderPool

SPEC = "thumbnail:256|format:jpeg,quality=80"
IMAGES = 24
WORKERS = 2
CLIENTS = 4
ROUNDS = 5
SERVICE_ROUNDS = 4
POOLS = ("processes", "threads")
STAGES = ("load", "read", "render", "wait", "decode", "operations", "encode", "write", "record")


def _bare(data: bytes) -> int:
    return len(implementation("bare", "a")(data))  # type: ignore[arg-type]


def bare_rate(pool: ProcessPoolExecutor, data: bytes) -> float:
    started = time.perf_counter()
    list(pool.map(_bare, [data] * IMAGES))
    return IMAGES / (time.perf_counter() - started)


async def _pool_rate(renders: Renders, data: bytes) -> float:
    spec = parse_spec(SPEC)
    started = time.perf_counter()
    await asyncio.gather(*(renders.render(data, spec, 60.0) for _ in range(IMAGES)))
    return IMAGES / (time.perf_counter() - started)


async def renders_alone(data: bytes, bare: ProcessPoolExecutor) -> None:
    renderer = renderer_for(Settings())
    pools: dict[str, Renders] = {
        "processes": RenderPool(renderer, WORKERS),
        "threads": ThreadRenders(renderer, WORKERS),
    }
    rates: dict[str, list[float]] = {name: [] for name in [*pools, "bare"]}
    for pool in pools.values():
        await _pool_rate(pool, data)  # warm-up: workers started, code loaded
    bare_rate(bare, data)
    for round_ in range(ROUNDS):
        names = [*pools, "bare"] if round_ % 2 == 0 else ["bare", *reversed(pools)]
        for name in names:
            rate = bare_rate(bare, data) if name == "bare" else await _pool_rate(pools[name], data)
            rates[name].append(rate)
    print(f"1. renders alone, {IMAGES} images handed at once to {WORKERS} workers")
    print(f"   {'pool':10} {'images/s':>9} {'vs bare':>8}")
    for name, samples in rates.items():
        ratio = statistics.median(a / b for a, b in zip(samples, rates["bare"], strict=True))
        print(f"   {name:10} {statistics.median(samples):9.1f} {ratio:7.2f}x")
    pool = pools["processes"]
    assert isinstance(pool, RenderPool)
    pool.close()


@contextlib.contextmanager
def embedded(work: Path, pool: str) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGPROC_")}
    env |= {"IMGPROC_PROCESSING_POOL": pool, "IMGPROC_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "cli", "dev", "--port", str(port), "--data-dir", str(work)]
    with (work / "dev.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"imgproc dev did not start; see {work / 'dev.log'}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ready(base_url: str) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return httpx.get(f"{base_url}/ready", timeout=2).status_code == 200
    return False


def _metrics(client: httpx.Client) -> dict[str, float]:
    """Sums and counts of the stage timings, and the answers given, by name."""
    found: dict[str, float] = {}
    pattern = re.compile(
        r'^imgproc_(processing_stage_seconds_(?:sum|count)\{stage="\w+"|processing_results_total'
        r'\{outcome="\w+")\}\s+(\S+)$',
        re.MULTILINE,
    )
    for name, value in pattern.findall(client.get("/metrics").text):
        found[name] = float(value)
    return found


def _answered(figures: dict[str, float]) -> float:
    return sum(v for k, v in figures.items() if k.startswith("processing_results_total"))


def _curl_config(base_url: str, ids: list[str]) -> str:
    body = '{"processing": "' + SPEC + '"}'
    entry = (
        'url = "{url}"\nrequest = "POST"\nheader = "Content-Type: application/json"\n'
        "data = {data}\noutput = /dev/null\n"
    )
    quoted = '"' + body.replace('"', '\\"') + '"'
    return "next\n".join(
        entry.format(url=f"{base_url}/api/v1/images/{i}/process", data=quoted) for i in ids
    )


class Service:
    """An embedded service with the originals stored, ready for rounds of processing."""

    def __init__(self, base_url: str, work: Path, data: bytes) -> None:
        self.work = work
        self.client = httpx.Client(base_url=base_url, timeout=60)
        self.ids = []
        for n in range(IMAGES):
            files = {"image": (f"{n}.jpg", data, "image/jpeg")}
            self.ids.append(self.client.post("/api/v1/images", files=files).json()["id"])
        (work / "curl.config").write_text(_curl_config(base_url, self.ids))
        self.rates: list[float] = []
        self.started = _metrics(self.client)

    def round(self) -> float:
        """One POST .../process per image; images/s by the events' times."""
        before, sent = _metrics(self.client), time.time()
        command = ["curl", "-sS", "--no-progress-meter", "--fail", "--parallel"]
        command += ["--parallel-max", str(CLIENTS), "-K", str(self.work / "curl.config")]
        subprocess.run(command, check=True)
        deadline = time.monotonic() + 300
        while _answered(_metrics(self.client)) - _answered(before) < IMAGES:
            if time.monotonic() > deadline:
                raise TimeoutError("the images were not processed in 300 s")
            time.sleep(0.25)
        first, last = _span(self.client, self.ids, sent)
        self.rates.append(IMAGES / (last - first))
        return self.rates[-1]

    def stages(self) -> dict[str, float]:
        """Mean seconds per stage over every round, and images/s per worker."""
        after = _metrics(self.client)

        def grown(name: str) -> float:
            return after.get(name, 0.0) - self.started.get(name, 0.0)

        stages = {}
        for stage in STAGES:
            count = grown(f'processing_stage_seconds_count{{stage="{stage}"')
            total = grown(f'processing_stage_seconds_sum{{stage="{stage}"')
            stages[stage] = total / count if count else float("nan")
        if failed := grown('processing_results_total{outcome="failed"'):
            print(f"   {failed:.0f} images failed; see {self.work / 'dev.log'}")
        stages["per_worker"] = statistics.median(self.rates) / WORKERS
        return stages


def _span(client: httpx.Client, ids: list[str], since: float) -> tuple[float, float]:
    """From the first request for processing to the last result, after `since`."""
    requested, completed = [], []
    for image_id in ids:
        for event in client.get(f"/api/v1/images/{image_id}/events").json()["events"]:
            at = datetime.fromisoformat(event["occurred_at"]).timestamp()
            if at < since:
                continue
            if event["type"] == "ProcessingRequested":
                requested.append(at)
            elif event["type"] in ("ProcessingCompleted", "ProcessingFailed"):
                completed.append(at)
    return min(requested), max(completed)


def processing_alone(
    scratch: Path, data: bytes, bare: ProcessPoolExecutor
) -> dict[str, tuple[float, float, dict[str, float]]]:
    """Both pools' services side by side, rounds alternating, each after a bare round."""
    with contextlib.ExitStack() as stack:
        services = {}
        for pool in POOLS:
            work = scratch / pool
            work.mkdir()
            services[pool] = Service(stack.enter_context(embedded(work, pool)), work, data)
        ratios: dict[str, list[float]] = {pool: [] for pool in POOLS}
        for round_ in range(SERVICE_ROUNDS):
            for pool in POOLS if round_ % 2 == 0 else POOLS[::-1]:
                baseline = bare_rate(bare, data)
                ratios[pool].append(services[pool].round() / baseline)
        return {
            pool: (
                statistics.median(services[pool].rates),
                statistics.median(ratios[pool]),
                services[pool].stages(),
            )
            for pool in POOLS
        }


def report_service(rows: dict[str, tuple[float, float, dict[str, float]]]) -> None:
    print(
        f"2. processing alone, embedded: {IMAGES} originals stored, then one POST .../process "
        f"each, {CLIENTS} curl clients, {WORKERS} workers; {SERVICE_ROUNDS} rounds each"
    )
    print(f"   {'pool':10} {'images/s':>9} {'vs bare 2 procs':>16}")
    for pool, (rate, ratio, _) in rows.items():
        print(f"   {pool:10} {rate:9.1f} {ratio:15.2f}x")
    print("   ms per image (render = wait + hand-over + decode + operations + encode);")
    names = (*STAGES, "hand-over", "busy %")
    print("   " + f"{'pool':10}" + "".join(f"{s:>11}" for s in names))
    for pool, (_, _, stages) in rows.items():
        inside = stages["decode"] + stages["operations"] + stages["encode"]
        handover = stages["render"] - stages["wait"] - inside
        busy = 100 * inside * stages["per_worker"]
        values = [stages[s] * 1000 for s in STAGES] + [handover * 1000, busy]
        print("   " + f"{pool:10}" + "".join(f"{v:11.1f}" for v in values))


def main() -> int:
    print(simd_build())
    with tempfile.TemporaryDirectory(prefix="bench-processing-") as scratch:
        buffer = Path(scratch) / "photo12mp.jpg"
        photo((4000, 3000)).save(buffer, "JPEG", quality=90)
        data = buffer.read_bytes()
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(WORKERS, mp_context=context) as bare:
            asyncio.run(renders_alone(data, bare))
            rows = processing_alone(Path(scratch), data, bare)
        report_service(rows)
    print(f"command: {Path(sys.executable).name} -m bench processing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
