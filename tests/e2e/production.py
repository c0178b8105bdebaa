"""The production topology as separate OS processes, on real servers.

Used by the end-to-end tests and the benchmark:

    with production_servers() as servers:
        with Topology(servers, log_dir) as topology:
            topology.start_every_role()  # or migrate(), start("api"), … wait_until_serving()
            httpx.post(f"{topology.base_url}/api/v1/images", ...)

The processes are configured the way a deployment would be: with the seed
variable names (DB_HOST, KAFKA_BROKERS, MINIO_HOST, …), plus the short Kafka
timeouts the test broker needs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import httpx
from psycopg.conninfo import conninfo_to_dict

from infra.settings import ENV_PREFIX, SEED_NAMES
from tests.servers import free_port, moto_server, postgres_database, tansu_broker

STOP_TIMEOUT = 15.0
S3_KEY, S3_SECRET = "testing", "testing"

# The test broker: no idempotent producer, and group joins as short as it allows.
TEST_BROKER_SETTINGS = {
    "IMGPROC_KAFKA_IDEMPOTENT": "false",
    "IMGPROC_KAFKA_SESSION_TIMEOUT_MS": "2000",
    "IMGPROC_KAFKA_HEARTBEAT_INTERVAL_MS": "300",
    "IMGPROC_KAFKA_REBALANCE_TIMEOUT_MS": "2000",
    "IMGPROC_KAFKA_PARTITIONS": "4",
}


@dataclass(frozen=True)
class Servers:
    database_url: str
    kafka: str  # host:port
    s3_endpoint: str  # http://host:port


@contextlib.contextmanager
def production_servers() -> Iterator[Servers]:
    """A fresh PostgreSQL database, a Kafka-compatible broker and an S3 server."""
    with postgres_database() as url, tansu_broker() as kafka, moto_server() as s3:
        yield Servers(database_url=url, kafka=kafka, s3_endpoint=s3)


def production_env(servers: Servers, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of every process: the seed names, nothing inherited that would
    change the configuration."""
    db = conninfo_to_dict(servers.database_url)
    s3_host, s3_port = servers.s3_endpoint.removeprefix("http://").rsplit(":", 1)
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX) and k not in SEED_NAMES
    }
    run = uuid.uuid4().hex[:8]
    return inherited | {
        "DB_HOST": str(db["host"]),
        "DB_PORT": str(db["port"]),
        "DB_USER": str(db["user"]),
        "DB_NAME": str(db["dbname"]),
        "DB_SSL_MODE": "disable",
        "KAFKA_BROKERS": servers.kafka,
        "KAFKA_TOPIC": f"image-events-{run}",
        "KAFKA_GROUP_ID": f"imgproc-{run}",
        "MINIO_HOST": s3_host,
        "MINIO_PORT": s3_port,
        "MINIO_ROOT_USER": S3_KEY,
        "MINIO_ROOT_PASSWORD": S3_SECRET,
        "MINIO_SSL": "false",
        "S3_BUCKET_NAME": f"images-{run}",
        "SERVER_PORT": str(free_port()),
        "IMGPROC_DATA_DIR": str(data_dir),
        "IMGPROC_LOG_LEVEL": "INFO",
        **TEST_BROKER_SETTINGS,
        **extra,
    }


def imgproc(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


class Process:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then the exit status; killed (and -9) if it does not stop in time."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            return -9


class Topology:
    """Processes of one deployment; every one is stopped on leaving the block."""

    def __init__(self, servers: Servers, log_dir: Path, **extra: str) -> None:
        self.servers = servers
        self.log_dir = log_dir
        self.env = production_env(servers, log_dir / "data", **extra)
        self.base_url = f"http://127.0.0.1:{self.env['SERVER_PORT']}"
        self.processes: dict[str, Process] = {}

    def __enter__(self) -> Topology:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    def migrate(self) -> None:
        done = subprocess.run(imgproc("migrate"), env=self.env, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode()

    def start(self, command: str, name: str | None = None) -> Process:
        name = name or command
        process = Process(name, imgproc(command), self.env, self.log_dir)
        self.processes[name] = process
        return process

    def start_every_role(self) -> None:
        """Migrate, then run the whole deployment: api, two processors, projector, relay
        and janitor, each its own process; back once the api serves."""
        self.migrate()
        self.start("api")
        self.start("process", name="processor-1")
        self.start("process", name="processor-2")
        self.start("project", name="projector")
        self.start("relay")
        self.start("janitor")
        self.wait_until_serving()

    def wait_until_serving(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        api = self.processes["api"]
        while time.monotonic() < deadline:
            if api.popen.poll() is not None:
                raise RuntimeError(f"imgproc api exited early:\n{api.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"imgproc api not ready within {within}s:\n{api.output()}")

    def stop_all(self) -> dict[str, int]:
        """Stop every process (the api last, so nothing is left waiting on it)."""
        names = sorted(self.processes, key=lambda name: name == "api")
        return {name: self.processes.pop(name).stop() for name in names}

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.output()[-4000:]}" for p in self.processes.values())

    def s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.servers.s3_endpoint,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
        )

    def blob_keys(self, prefix: str) -> list[str]:
        answer = self.s3().list_objects_v2(Bucket=self.env["S3_BUCKET_NAME"], Prefix=prefix)
        return [item["Key"] for item in answer.get("Contents", [])]


class Proxy:
    """A TCP forwarder to a server that can be cut: how a database that goes away looks
    to the processes using it, without stopping the shared server."""

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        self._open = False
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while self._open:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open:
                client.close()
                return
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
