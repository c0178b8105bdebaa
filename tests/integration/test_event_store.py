"""The event store on SQLite and PostgreSQL: commands record events, the log reads them back."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from cli.bootstrap import open_database
from commands.application import ImageCommands
from commands.errors import EventStoreUnavailable
from commands.messages import CompleteProcessing
from domain.events import ImageUploaded, ProcessingCompleted, ProcessingRequested
from domain.facts import Picture
from domain.image import Image
from domain.keys import original_key
from domain.status import ImageStatus
from infra.errors import DependencyUnavailable
from infra.event_store import SqlEventLog, event_store_env, open_image_commands
from infra.migrate import upgrade
from infra.settings import Settings
from tests.fakes import an_upload
from tests.servers import POSTGRES_ADMIN_URL, closed_port, postgres_database

if TYPE_CHECKING:
    from tests.integration.backends import Backend

pytest_plugins = ["tests.integration.backends"]  # the `backend` fixtures


def upload(app: ImageCommands, spec: str | None = "resize:100x100") -> UUID:
    return app.upload(an_upload(spec))


RESULT = Picture(content_type="image/png", size=99, width=100, height=75)


def complete(image_id: UUID) -> CompleteProcessing:
    return CompleteProcessing(
        image_id=image_id, request_no=1, result_key="results/cat.png", result=RESULT
    )


def test_an_uploaded_image_is_saved_and_reloaded(backend: Backend) -> None:
    image_id = upload(backend.commands())

    image = backend.commands().image(image_id)  # another process reading the same store

    assert image.status is ImageStatus.PROCESSING
    assert (image.upload.file_name, image.spec, image.request_no) == (
        "cat.png",
        "resize:100x100",
        1,
    )


def test_an_upload_with_a_spec_records_both_events_together(backend: Backend) -> None:
    app = backend.commands()
    image_id = upload(app)

    history = SqlEventLog(app).history(image_id)

    assert [(e.type, e.version) for e in history] == [
        ("ImageUploaded", 1),
        ("ProcessingRequested", 2),
    ]
    assert history[1].position == history[0].position + 1
    assert history[0].data == ImageUploaded(
        file_name="cat.png",
        content_type="image/png",
        size=1234,
        width=640,
        height=480,
        original_key=original_key(image_id),
    )
    assert history[1].data == ProcessingRequested(request_no=1, spec="resize:100x100")


def test_an_empty_log_has_nothing_to_read(backend: Backend) -> None:
    log = SqlEventLog(backend.commands())

    assert log.head() == 0
    assert log.read(after=0, limit=10) == []


def test_the_log_is_read_in_pages_in_order_of_position(backend: Backend) -> None:
    app = backend.commands()
    first, second = upload(app), upload(app, spec=None)
    app.complete_processing(complete(first))
    log = SqlEventLog(app)

    pages = [log.read(after=0, limit=2)]
    while pages[-1]:
        pages.append(log.read(after=pages[-1][-1].position, limit=2))
    events = [event for page in pages for event in page]

    assert [len(page) for page in pages] == [2, 2, 0]
    assert [(e.image_id, e.type) for e in events] == [
        (first, "ImageUploaded"),
        (first, "ProcessingRequested"),
        (second, "ImageUploaded"),
        (first, "ProcessingCompleted"),
    ]
    positions = [e.position for e in events]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert log.head() == positions[-1]


def test_an_image_history_carries_its_log_positions(backend: Backend) -> None:
    app = backend.commands()
    image_id, other = upload(app), upload(app)
    app.complete_processing(complete(other))
    app.complete_processing(complete(image_id))
    log = SqlEventLog(app)

    history = log.history(image_id)

    assert [e.version for e in history] == [1, 2, 3]
    assert history[-1].data == ProcessingCompleted(
        request_no=1, result_key="results/cat.png", **RESULT.flat()
    )
    assert history == [e for e in log.read(after=0, limit=100) if e.image_id == image_id]
    assert log.history(image_id, after_version=1) == history[1:]
    assert log.history(image_id, after_version=3) == []


def test_an_unknown_image_has_no_history(backend: Backend) -> None:
    log = SqlEventLog(backend.commands())

    assert log.history(uuid4()) == []


class RacingCommands(ImageCommands):
    """Holds each thread's first load until the other has loaded too: a guaranteed race."""

    name = ImageCommands.name  # the store's tables are named after the application

    def __init__(self, barrier: threading.Barrier, env: dict[str, str]) -> None:
        super().__init__(env=env)
        self._barrier = barrier
        self._loaded = threading.local()

    def image(self, image_id: UUID) -> Image:
        image = super().image(image_id)
        if not getattr(self._loaded, "once", False):
            self._loaded.once = True
            self._barrier.wait()
        return image


def test_two_writers_completing_one_request_record_one_completion(backend: Backend) -> None:
    image_id = upload(backend.commands())
    barrier = threading.Barrier(2, timeout=10)
    writers = [RacingCommands(barrier, event_store_env(backend.settings)) for _ in range(2)]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = list(
                pool.map(lambda app: app.complete_processing(complete(image_id)), writers)
            )
    finally:
        for app in writers:
            app.close()

    assert sorted(outcomes) == [False, True]
    history = SqlEventLog(backend.commands()).history(image_id)
    assert [e.type for e in history].count("ProcessingCompleted") == 1


@pytest.mark.parametrize(
    "open_store", [open_image_commands, open_database], ids=["event store", "read side"]
)
def test_an_unreachable_postgres_is_reported_quickly(
    tmp_path: Path, open_store: Callable[[Settings], object]
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/none"
    started = time.monotonic()

    with pytest.raises(DependencyUnavailable):
        open_store(Settings(data_dir=tmp_path, database_url=url))

    assert time.monotonic() - started < 2


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Settings]:
    """A migrated PostgreSQL database."""
    with postgres_database() as url:
        settings = Settings(data_dir=tmp_path, database_url=url)
        upgrade(settings)
        yield settings


@contextlib.contextmanager
def refusing_connections(settings: Settings) -> Iterator[None]:
    """The database refuses new connections and loses its open ones, as when its server
    goes away; then it is back."""
    dbname = str(conninfo_to_dict(settings.database_url or "")["dbname"])
    name = sql.Identifier(dbname)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            [dbname],
        )
        try:
            yield
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


def test_a_database_gone_while_running_is_reported_within_seconds(postgres: Settings) -> None:
    app = open_image_commands(postgres)
    upload(app)

    with refusing_connections(postgres):
        timings = []
        for _ in range(2):
            started = time.monotonic()
            with pytest.raises(EventStoreUnavailable):
                upload(app)
            timings.append(time.monotonic() - started)

    assert timings[0] < 4 and timings[1] < 3, timings
    image_id = upload(app)  # and back as soon as it is
    assert [e.version for e in SqlEventLog(app).history(image_id)] == [1, 2]
    app.close()


def test_the_ssl_mode_of_the_url_reaches_the_event_store_connections(
    postgres: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGSSLMODE", "prefer")  # libpq's default; the store sets it per URL
    url = f"{postgres.database_url}?sslmode=disable"
    app = open_image_commands(Settings(data_dir=postgres.data_dir, database_url=url))

    with app.recorder.datastore.get_connection() as connection:  # type: ignore[attr-defined]
        options = {o.keyword: o.val for o in connection.pgconn.info}

    assert options[b"sslmode"] == b"disable"
    app.close()


def test_the_postgres_environment_comes_from_the_url() -> None:
    settings = Settings(database_url="postgresql://app:s%40cret@db.internal:6543/images")

    env = event_store_env(settings)

    assert env["PERSISTENCE_MODULE"] == "infra.event_store:PostgresFactory"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.internal",
        "6543",
        "images",
    )
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("app", "s@cret")
    assert env["CREATE_TABLE"] == "false"
