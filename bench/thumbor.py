"""12 MP JPEG -> 256 thumbnail, JPEG q80: the service against thumbor, in one run.

Input: one photo-like 4000x3000 JPEG (q90, about 3 MB), made in code.

    thumbor      thumbor (THUMBOR below, from PyPI, in a virtualenv of its own under this
                 run's temporary folder), file loader, no storage, no result storage,
                 as many processes as our processing workers; each request
                 `/unsafe/fit-in/256x256/filters:quality(80)/<file>` renders afresh.
                 req/s = requests / time from starting the curl clients to their end.
    processing   `imgproc dev` (embedded): the originals are uploaded first without a
                 spec, then one `POST …/process` each with SPEC; images/s = images /
                 (last ProcessingCompleted - first ProcessingRequested), both the
                 events' own timestamps (GET …/events), so no polling is timed.
    end to end   `imgproc dev`: the uploads carry SPEC; images/s = images / (from
                 starting the curl clients to the last ProcessingCompleted).

Each side is loaded by CLIENTS curl processes at once (a C client: a Python one would
take a share of the same two cores), sending IMAGES requests in all. The three take
turns for ROUNDS rounds, with both servers up throughout, so a busy machine weighs on
all of them; the figures are medians over the rounds, the ratios medians of the
per-round ratios. Targets (issue 9): processing alone >= 1.15x thumbor, end to end
>= 0.8x thumbor (thumbor receives no upload and stores nothing).

    .venv/bin/python -m bench thumbor      (or: task bench -- thumbor)
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench._service import (
    curl_get,
    curl_post_json,
    curl_uploads,
    events,
    imgproc_dev,
    moment,
    photo_jpeg,
    running,
    wait_http,
    wait_processed,
)
from infra.settings import Settings
from tests.servers import free_port

THUMBOR = "thumbor==7.8.0"  # the newest release; installs and runs on Python 3.11
SIZE = (4000, 3000)  # 12 megapixels
SPEC = "thumbnail:256|format:jpeg,quality=80"  # fits 256x256, like thumbor's fit-in
THUMBOR_PATH = "fit-in/256x256/filters:quality(80)"
IMAGES = 48  # per side and round
CLIENTS = 4
ROUNDS = 3
WARM_UP = 2  # images each side renders before the rounds


@dataclass(frozen=True)
class Round:
    thumbor: float  # images per second
    processing: float
    end_to_end: float


def install_thumbor(folder: Path) -> tuple[Path, str]:
    """A virtualenv with thumbor; its `thumbor` script and the Pillow it brought."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    pip = [str(folder / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*pip, THUMBOR], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pip install {THUMBOR} failed:\n{done.stderr[-3000:]}")
    pillow = subprocess.run(
        [str(folder / "bin" / "python"), "-c", "import PIL; print(PIL.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return folder / "bin" / "thumbor", pillow


@contextlib.contextmanager
def thumbor(script: Path, images: Path, processes: int, work: Path) -> Iterator[str]:
    """thumbor serving the files under `images` on a free loopback port; yields the URL
    prefix of an image path."""
    config = work / "thumbor.conf"
    config.write_text(
        "LOADER = 'thumbor.loaders.file_loader'\n"
        f"FILE_LOADER_ROOT_PATH = {str(images)!r}\n"
        "STORAGE = 'thumbor.storages.no_storage'\n"
        "RESULT_STORAGE = None\n"
        "ALLOW_UNSAFE_URL = True\n"
    )
    port = free_port()
    command = [str(script), "-i", "127.0.0.1", "-p", str(port), "-c", str(config)]
    command += ["--processes", str(processes), "-l", "warning"]
    log = work / "thumbor.log"
    with running(command, log) as process:
        wait_http(f"http://127.0.0.1:{port}/healthcheck", process, "thumbor", log)
        yield f"http://127.0.0.1:{port}/unsafe/{THUMBOR_PATH}"


def thumbor_rate(prefix: str, names: list[str]) -> float:
    urls = [f"{prefix}/{name}" for name in names]
    started = time.perf_counter()
    codes = curl_get(urls, CLIENTS)
    elapsed = time.perf_counter() - started
    if any(code != 200 for code in codes):
        raise RuntimeError(f"thumbor answered {sorted(set(codes))}")
    return len(urls) / elapsed


def processing_rate(base_url: str, original: Path) -> float:
    """Originals stored first (not timed), then one POST …/process each; timed from the
    events' own timestamps."""
    ids = curl_uploads(base_url, original, IMAGES, CLIENTS)
    with httpx.Client(base_url=base_url, timeout=60) as client:
        wait_uploaded(client, ids)
        urls = [f"{base_url}/api/v1/images/{i}/process" for i in ids]
        codes = curl_post_json(urls, {"processing": SPEC}, CLIENTS)
        if any(code != 202 for code in codes):
            raise RuntimeError(f"POST …/process answered {sorted(set(codes))}")
        histories = wait_processed(client, ids)
    requested = [moment(e) for h in histories.values() for e in h if _is(e, "Requested")]
    completed = [moment(e) for h in histories.values() for e in h if _is(e, "Completed")]
    return IMAGES / (max(completed) - min(requested))


def end_to_end_rate(base_url: str, original: Path) -> float:
    """Uploads with the spec, from starting the clients to the last result recorded."""
    started = time.time()
    ids = curl_uploads(base_url, original, IMAGES, CLIENTS, spec=SPEC)
    with httpx.Client(base_url=base_url, timeout=60) as client:
        histories = wait_processed(client, ids)
    completed = [moment(e) for h in histories.values() for e in h if _is(e, "Completed")]
    return IMAGES / (max(completed) - started)


def wait_uploaded(client: httpx.Client, ids: list[str]) -> None:
    """Until every upload is in the event log (a 202 may come before, on some paths)."""
    deadline = time.monotonic() + 60
    for image in ids:
        while not any(e["type"] == "ImageUploaded" for e in _history(client, image)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"upload {image} not recorded")
            time.sleep(0.1)


def _history(client: httpx.Client, image: str) -> list[dict[str, object]]:
    with contextlib.suppress(httpx.HTTPStatusError):
        return events(client, image)
    return []


def _is(event: dict[str, object], what: str) -> bool:
    return event["type"] == f"Processing{what}"


def report(rounds: list[Round], workers: int, pillow: str) -> None:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    print(
        f"12 MP JPEG -> fit 256x256, JPEG q80; {IMAGES} images a side and round, "
        f"{CLIENTS} curl clients, {ROUNDS} rounds; {workers} processes each side"
    )
    print(f"{'round':>5} {'thumbor':>9} {'processing':>11} {'end to end':>11}  (images/s)")
    for n, r in enumerate(rounds, 1):
        print(f"{n:5} {r.thumbor:9.2f} {r.processing:11.2f} {r.end_to_end:11.2f}")
    thumbor_median = median([r.thumbor for r in rounds])
    print(
        f"{'median':>5} {thumbor_median:9.2f} {median([r.processing for r in rounds]):11.2f} "
        f"{median([r.end_to_end for r in rounds]):11.2f}"
    )
    alone = median([r.processing / r.thumbor for r in rounds])
    whole = median([r.end_to_end / r.thumbor for r in rounds])
    print(f"thumbor: {THUMBOR} on Pillow {pillow}")
    print(f"processing alone / thumbor: {alone:.2f}x (target >= 1.15x)")
    print(f"end to end / thumbor:       {whole:.2f}x (target >= 0.80x)")


def main() -> int:
    workers = Settings().processing_workers
    with tempfile.TemporaryDirectory(prefix="bench-thumbor-") as scratch:
        work = Path(scratch)
        print(f"installing {THUMBOR} in a virtualenv under {work}", flush=True)
        script, pillow = install_thumbor(work / "venv")
        images = work / "images"
        images.mkdir()
        data = photo_jpeg(SIZE)
        names = [f"photo{n:03}.jpg" for n in range(IMAGES)]
        for name in names:  # one file a request, as one upload a request on our side
            (images / name).write_bytes(data)
        original = images / names[0]
        rounds = []
        with (
            thumbor(script, images, workers, work) as prefix,
            imgproc_dev(work / "imgproc", processing_workers=workers) as base_url,
        ):
            thumbor_rate(prefix, names[:WARM_UP])
            with httpx.Client(base_url=base_url, timeout=60) as client:
                wait_processed(client, curl_uploads(base_url, original, WARM_UP, 1, SPEC))
            for n in range(ROUNDS):
                rounds.append(
                    Round(
                        thumbor=thumbor_rate(prefix, names),
                        processing=processing_rate(base_url, original),
                        end_to_end=end_to_end_rate(base_url, original),
                    )
                )
                print(f"round {n + 1} of {ROUNDS} done", flush=True)
    report(rounds, workers, pillow)
    return 0


if __name__ == "__main__":
    sys.exit(main())
