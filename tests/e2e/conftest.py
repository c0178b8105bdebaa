"""The service as users run it: `imgproc dev` in its own process, spoken to over HTTP."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, postgres_database


class Service:
    def __init__(self, base_url: str, data_dir: Path) -> None:
        self.base_url = base_url
        self.data_dir = data_dir

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """`imgproc dev` on the embedded SQLite store, then on PostgreSQL."""
    with contextlib.ExitStack() as stack:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMGPROC_")}
        if request.param == "postgres":
            env["IMGPROC_DATABASE_URL"] = stack.enter_context(postgres_database())
        yield from _run_dev(tmp_path_factory.mktemp("imgproc"), env)


def _run_dev(data_dir: Path, env: dict[str, str]) -> Iterator[Service]:
    port = free_port()
    log_file = data_dir / "service.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "dev", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=log_file.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                output = log_file.read_text()
                raise RuntimeError(f"imgproc dev exited early:\n{output}")
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("imgproc dev did not start within 30 s")
            time.sleep(0.1)
        yield Service(base_url, data_dir)
    finally:
        proc.terminate()
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError("imgproc dev did not stop within 15 s of SIGTERM") from None
        if code != 0:
            output = log_file.read_text()
            raise RuntimeError(f"imgproc dev exited with {code} on SIGTERM:\n{output[-3000:]}")
