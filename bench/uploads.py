"""12 MP uploads accepted per second, against a bare Litestar handler, in one run.

Input: one photo-like 4000x3000 JPEG (q90, about 3 MB), made in code.

    ours   `imgproc dev` (embedded), uploads without a processing spec: the service
           receives the file into its spool, probes its header, stores it and records
           the upload; the in-process projector, processor and janitor wake for it
    bare   a Litestar handler under the same server (uvicorn, as the service runs
           it) that receives the same multipart upload as an UploadFile, reads it and
           writes the file to disk (bench/_bare_uploads.py)

UPLOADS uploads a turn, sent by CLIENTS curl processes at once (a C client, each over
one kept-alive connection); accepted/s = uploads / time from starting the clients to
their end. Both servers stay up; the two take turns (ours, bare, bare, ours, twice),
so drift weighs on both alike. Figures: medians of the turns, and the median of the
ratios of neighbouring turns. Target (issue 9): at least 0.8x the bare handler.

Beside the rates, per turn: each server's CPU time (all its threads) per upload, which
other work on the machine disturbs less than a rate; and the share of the machine's
CPU that neither the server nor curl used while the turn was timed, which says how
much other work there was. At the end, each server's peak RSS (VmHWM) and how far it
rose above the server's size once ready: what the uploads cost in memory.

    .venv/bin/python -m bench uploads      (or: task bench -- uploads)
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench._service import (
    ROOT,
    Served,
    curl_uploads,
    imgproc_dev_server,
    photo_jpeg,
    running,
    wait_http,
)
from tests.servers import free_port

SIZE = (4000, 3000)  # 12 megapixels
UPLOADS = 40
CLIENTS = 4
ORDER = ("ours", "bare", "bare", "ours") * 2


@dataclass(frozen=True)
class Turn:
    accepted_per_s: float
    cpu_ms: float  # the server's CPU time per upload
    others: float  # the share of the machine's CPU used by neither the server nor curl


@contextlib.contextmanager
def bare_server(work: Path) -> Iterator[Served]:
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
        yield Served(base_url, process.pid)


def turn(server: Served, file: Path, count: int) -> Turn:
    before = _server_cpu(server.pid), _machine_busy(), _children_cpu()
    started = time.perf_counter()
    curl_uploads(server.url, file, count, CLIENTS)
    elapsed = time.perf_counter() - started
    after = _server_cpu(server.pid), _machine_busy(), _children_cpu()
    served, busy, curls = (end - start for start, end in zip(before, after, strict=True))
    others = max(0.0, busy - served - curls) / (elapsed * (os.cpu_count() or 1))
    return Turn(count / elapsed, 1000 * served / count, others)


def _server_cpu(pid: int) -> float:
    """Seconds of CPU a process has used, user and system, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """Seconds of CPU the machine has spent busy, over all its cores."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    """Seconds of CPU used by this process's children that have ended (the curls)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _memory_kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (the high-water mark) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as scratch:
        work = Path(scratch)
        original = work / "photo12mp.jpg"
        original.write_bytes(photo_jpeg(SIZE))
        size = original.stat().st_size
        turns: dict[str, list[Turn]] = {"ours": [], "bare": []}
        with imgproc_dev_server(work / "imgproc") as ours, bare_server(work / "bare") as bare:
            servers = {"ours": ours, "bare": bare}
            ready = {side: _memory_kib(s.pid, "VmRSS") for side, s in servers.items()}
            for server in servers.values():
                curl_uploads(server.url, original, CLIENTS, CLIENTS)  # warm-up
            for side in ORDER:
                turns[side].append(turn(servers[side], original, UPLOADS))
            peak = {side: _memory_kib(s.pid, "VmHWM") for side, s in servers.items()}
    report(turns, size, ready, peak)
    return 0


def report(
    turns: dict[str, list[Turn]], size: int, ready: dict[str, int], peak: dict[str, int]
) -> None:
    def median(side: str, figure: str) -> float:
        return statistics.median(getattr(t, figure) for t in turns[side])

    # Neighbouring turns (ours then bare, bare then ours) share the machine's state.
    ratios = [
        o.accepted_per_s / b.accepted_per_s
        for o, b in zip(turns["ours"], turns["bare"], strict=True)
    ]
    others = [t.others for side in turns.values() for t in side]
    print(
        f"12 MP JPEG uploads ({size / 2**20:.1f} MiB), no processing, {UPLOADS} a turn "
        f"from {CLIENTS} curl clients, {len(ORDER)} turns"
    )
    for side in ("ours", "bare"):
        rates = " ".join(f"{t.accepted_per_s:6.1f}" for t in turns[side])
        print(f"{side:5} accepted/s: median {median(side, 'accepted_per_s'):6.1f}   turns {rates}")
    print(
        f"ours / bare: {statistics.median(ratios):.2f}x (target >= 0.80x; "
        f"turns {min(ratios):.2f}-{max(ratios):.2f})"
    )
    print(
        f"server CPU per upload: ours {median('ours', 'cpu_ms'):.1f} ms, "
        f"bare {median('bare', 'cpu_ms'):.1f} ms (medians of the turns)"
    )
    print(
        "peak RSS: "
        + ", ".join(
            f"{side} {peak[side] / 1024:.0f} MiB ({(peak[side] - ready[side]) / 1024:+.0f} MiB "
            "over the server once ready)"
            for side in ("ours", "bare")
        )
    )
    print(
        f"other work on the machine while timed: {100 * statistics.median(others):.0f}% of "
        f"its CPU (turns {100 * min(others):.0f}-{100 * max(others):.0f}%)"
    )


if __name__ == "__main__":
    sys.exit(main())
