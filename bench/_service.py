"""What the peer benchmarks share: servers started on a free loopback port and always
stopped, the service reached over HTTP only, and C clients (curl, wrk) for the load.

The benches talk to the service through its public API alone (uploads, `POST …/process`,
`GET …/events`, `GET …/status`), so they keep measuring whatever the service does
inside.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench._imaging_jobs import photo
from infra.settings import Settings
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]  # where `bench` and `cli` are importable from
STARTUP = 90.0  # seconds a server gets to answer
STOP_GRACE = 10.0  # seconds a server gets to exit on SIGTERM before it is killed
DONE = ("ProcessingCompleted", "ProcessingFailed")


def photo_jpeg(size: tuple[int, int], quality: int = 90) -> bytes:
    """The imaging bench's photo-like picture, as JPEG bytes."""
    buffer = io.BytesIO()
    photo(size).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


# -- processes ----------------------------------------------------------------------------


@contextlib.contextmanager
def running(
    command: Sequence[str], log: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` in a session of its own, so that the processes it forks (thumbor's,
    say) are stopped with it: SIGTERM to the group, then SIGKILL after a grace period."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env if env is not None else os.environ),
            cwd=ROOT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    group = process.pid  # a new session: its id is the leader's pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE)
    # Forked children may outlive the leader: whatever is left of the group goes.
    deadline = time.monotonic() + STOP_GRACE
    while time.monotonic() < deadline and _group_alive(group):
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def wait_http(
    url: str, process: subprocess.Popen[bytes], what: str, log: Path, ok: Sequence[int] = (200,)
) -> None:
    """Until `url` answers (200, or a status in `ok`); fails with the log's tail when the
    server exits."""
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{what} exited with status {process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=5).status_code in ok:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not answer {url} in {STARTUP:.0f}s")


@dataclass(frozen=True)
class Served:
    url: str  # the server's base URL
    pid: int  # its process


@contextlib.contextmanager
def imgproc_dev(work: Path, **settings: object) -> Iterator[str]:
    """`imgproc dev` on a free loopback port with its data under `work`; yields its base
    URL. `settings` become IMGPROC_* variables (database_url=…, processing_workers=…);
    nothing else of the caller's IMGPROC_* environment is passed on."""
    with imgproc_dev_server(work, **settings) as served:
        yield served.url


@contextlib.contextmanager
def imgproc_dev_server(work: Path, **settings: object) -> Iterator[Served]:
    """`imgproc dev` as imgproc_dev starts it; yields its base URL and process id."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGPROC_")}
    env |= {f"IMGPROC_{key.upper()}": str(value) for key, value in settings.items()}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "cli", "dev", "--port", str(port), "--data-dir", str(work)]
    log = work / "imgproc.log"
    with running(command, log, env) as process:
        base_url = f"http://127.0.0.1:{port}"
        wait_http(f"{base_url}/ready", process, "imgproc dev", log)
        yield Served(base_url, process.pid)


# -- the service's API ---------------------------------------------------------------------


def events(client: httpx.Client, image_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/images/{image_id}/events")
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["events"]
    return found


def moment(event: Mapping[str, Any]) -> float:
    """The event's own timestamp, in seconds since the epoch (the machine's clock)."""
    return datetime.fromisoformat(event["occurred_at"]).timestamp()


def last_outcome(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The outcome of the latest processing request, once there is one."""
    requests = [e for e in history if e["type"] == "ProcessingRequested"]
    if not requests:
        return None
    latest = requests[-1]["data"]["request_no"]
    for event in history:
        if event["type"] in DONE and event["data"]["request_no"] == latest:
            return event
    return None


def wait_processed(
    client: httpx.Client, ids: Sequence[str], within: float = 600.0, every: float = 0.25
) -> dict[str, list[dict[str, Any]]]:
    """Every image's history once its latest request has an outcome. One image is asked
    about at a time, a few times a second: the waiting must not load the service it
    measures. Fails when an image failed or the time is up."""
    pending = list(ids)
    histories: dict[str, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + within
    while pending:
        history = events(client, pending[0])
        outcome = last_outcome(history)
        if outcome is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} images not processed in {within:.0f}s")
            time.sleep(every)
            continue
        if outcome["type"] != "ProcessingCompleted":
            raise RuntimeError(f"image {pending[0]} failed: {outcome['data']}")
        histories[pending.pop(0)] = history
    return histories


# -- C clients -----------------------------------------------------------------------------


def need(tool: str, package: str | None = None) -> str:
    """The path of `tool`; installed with apt-get when missing and we are root."""
    found = shutil.which(tool)
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(f"{tool} is missing: install it (`apt-get install {package or tool}`)")
    print(f"installing {package or tool} with apt-get", flush=True)
    install = ["apt-get", "install", "-y", "-q", package or tool]
    if subprocess.run(install, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
        subprocess.run(install, capture_output=True, check=True)
    found = shutil.which(tool)
    if not found:
        raise RuntimeError(f"{tool} is still missing after apt-get install {package or tool}")
    return found


def _split(items: Sequence[str], parts: int) -> list[list[str]]:
    return [list(items[i::parts]) for i in range(parts) if items[i::parts]]


def _one_curl(curl: str, each: list[str], urls: list[str]) -> list[str]:
    """One curl process sending a request to each URL in turn, over the connection it
    keeps alive; `--next` starts each request's options afresh (a form or a body given
    once would otherwise grow with every URL)."""
    command = [curl]
    for n, url in enumerate(urls):
        command += [*(["--next"] if n else []), *each, url]
    return command


def _curls(commands: list[list[str]]) -> list[str]:
    """Run the curl commands at once; their standard outputs, in order."""
    processes = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in commands
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"curl exited with {process.returncode}: {err.decode()[-500:]}")
        outputs.append(out.decode())
    return outputs


def curl_get(urls: Sequence[str], clients: int) -> list[int]:
    """GET every URL, `clients` curl processes at once, each over one kept-alive
    connection; the status codes."""
    curl = need("curl")
    each = ["-s", "-S", "-w", "%{http_code}\\n", "-o", "/dev/null"]
    commands = [_one_curl(curl, each, share) for share in _split(urls, clients)]
    return [int(code) for out in _curls(commands) for code in out.split()]


def curl_post_json(urls: Sequence[str], body: Mapping[str, Any], clients: int) -> list[int]:
    """POST the same JSON body to every URL, `clients` curl processes at once."""
    curl = need("curl")
    payload = json.dumps(body)
    each = ["-s", "-S", "-w", "%{http_code}\\n", "-o", "/dev/null"]
    each += ["-H", "Content-Type: application/json", "-d", payload]
    commands = [_one_curl(curl, each, share) for share in _split(urls, clients)]
    return [int(code) for out in _curls(commands) for code in out.split()]


def curl_uploads(
    base_url: str, file: Path, count: int, clients: int, spec: str | None = None
) -> list[str]:
    """Upload `file` `count` times, `clients` curl processes at once, each over one
    kept-alive connection; the ids of the accepted images."""
    curl = need("curl")
    url = f"{base_url}/api/v1/images"
    each = ["-s", "-S", "-w", "\\n", "-F", f"image=@{file};type=image/jpeg"]
    if spec is not None:
        each += ["-F", f"processing={spec}"]
    commands = [_one_curl(curl, each, share) for share in _split([url] * count, clients)]
    ids = []
    for out in _curls(commands):
        for line in filter(None, out.splitlines()):
            body = json.loads(line)
            if "id" not in body:
                raise RuntimeError(f"upload refused: {line}")
            ids.append(str(body["id"]))
    if len(ids) != count:
        raise RuntimeError(f"{len(ids)} of {count} uploads accepted")
    return ids


def wrk(url: str, seconds: float, connections: int, threads: int = 1) -> tuple[float, float]:
    """Requests per second and p99 latency (seconds) of GET `url` under wrk."""
    command = [
        need("wrk"),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    out = done.stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors[1]} failed requests to {url}:\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    if rate is None or p99 is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[p99[2]]
    return float(rate[1]), float(p99[1]) * scale


def upload_latency(
    base_url: str, data: bytes, spec_text: str, uploads: int
) -> tuple[list[float], list[float]]:
    """One client, one upload at a time: seconds from sending each upload to its result
    recorded (the event's own timestamp, so waiting is not timed), and seconds each
    rendering of the same spec on the same bytes takes in this process, right after."""
    from domain.spec import parse_spec
    from workers.imaging import render

    spec = parse_spec(spec_text)
    max_pixels = Settings().max_pixels
    latencies, renders = [], []
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for n in range(uploads + 2):  # the first two warm up
            sent = time.time()
            files = {"image": (f"{n}.jpg", data, "image/jpeg")}
            response = client.post("/api/v1/images", files=files, data={"processing": spec_text})
            if response.status_code != 202:
                raise RuntimeError(f"upload refused: {response.status_code} {response.text}")
            image = str(response.json()["id"])
            time.sleep(0.1)  # no question while it works: the answer is in the events
            outcome = last_outcome(wait_processed(client, [image], every=0.05)[image])
            assert outcome is not None
            started = time.perf_counter()
            render(data, spec, max_pixels=max_pixels)
            if n >= 2:
                renders.append(time.perf_counter() - started)
                latencies.append(moment(outcome) - sent)
    return latencies, renders
