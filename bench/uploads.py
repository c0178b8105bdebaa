"""12 MP uploads accepted per second, against a bare Litestar handler, in one run.

Input: one photo-like 4000x3000 JPEG (q90, about 3 MB), made in code.

    ours   `imgproc dev` (embedded), uploads without a processing spec: the service
           checks the file, stores it and records the upload
    bare   a Litestar handler under the same server (uvicorn, as the service runs
           it) that receives the same multipart upload and writes the file to disk
           (bench/_bare_uploads.py)

UPLOADS uploads a turn, sent by CLIENTS curl processes at once (a C client, each over
one kept-alive connection); accepted/s = uploads / time from starting the clients to
their end. Both servers stay up; the two take turns (ours, bare, bare, ours, twice),
so drift weighs on both alike. Figures: medians of the turns, and the median of the
ratios of neighbouring turns. Target (issue 9): at least 0.8x the bare handler.

    .venv/bin/python -m bench uploads      (or: task bench -- uploads)
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench._service import ROOT, curl_uploads, imgproc_dev, photo_jpeg, running, wait_http
from tests.servers import free_port

SIZE = (4000, 3000)  # 12 megapixels
UPLOADS = 24
CLIENTS = 4
ORDER = ("ours", "bare", "bare", "ours") * 2


@contextlib.contextmanager
def bare_server(work: Path) -> Iterator[str]:
    """The bare handler under uvicorn, configured as the service configures it."""
    (work / "files").mkdir(parents=True)
    port = free_port()
    env = os.environ | {"BENCH_BARE_DIR": str(work / "files")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench._bare_uploads:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--lifespan", "on", "--log-level", "warning"]
    log = work / "bare.log"
    with running(command, log, env) as process:
        base_url = f"http://127.0.0.1:{port}"
        # Any answer will do (405 to a GET): the server is up.
        wait_http(f"{base_url}/api/v1/images", process, "the bare handler", log, ok=(405,))
        yield base_url


def accepted_rate(base_url: str, file: Path, count: int) -> float:
    started = time.perf_counter()
    curl_uploads(base_url, file, count, CLIENTS)
    return count / (time.perf_counter() - started)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as scratch:
        work = Path(scratch)
        original = work / "photo12mp.jpg"
        original.write_bytes(photo_jpeg(SIZE))
        size = original.stat().st_size
        turns: dict[str, list[float]] = {"ours": [], "bare": []}
        with imgproc_dev(work / "imgproc") as ours_url, bare_server(work / "bare") as bare_url:
            urls = {"ours": ours_url, "bare": bare_url}
            for url in urls.values():
                accepted_rate(url, original, CLIENTS)  # warm-up
            for side in ORDER:
                turns[side].append(accepted_rate(urls[side], original, UPLOADS))
    # Neighbouring turns (ours then bare, bare then ours) share the machine's state.
    ratios = [o / b for o, b in zip(turns["ours"], turns["bare"], strict=True)]
    print(
        f"12 MP JPEG uploads ({size / 2**20:.1f} MiB), no processing, {UPLOADS} a turn "
        f"from {CLIENTS} curl clients, {len(ORDER)} turns"
    )
    for side in ("ours", "bare"):
        rates = " ".join(f"{rate:6.1f}" for rate in turns[side])
        print(f"{side:5} accepted/s: median {statistics.median(turns[side]):6.1f}   turns {rates}")
    print(f"ours / bare: {statistics.median(ratios):.2f}x (target >= 0.80x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
