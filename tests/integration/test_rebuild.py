"""Rebuilding and verifying the image_status projection on SQLite and PostgreSQL, with the
service's own projector running beside it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.application import ImageCommands
from commands.messages import CompleteProcessing, DeleteImage, FailProcessing, RequestProcessing
from domain.errors import ImageNotFound, InvalidTransition
from domain.events import EventEnvelope
from domain.facts import Picture
from infra.errors import DependencyUnavailable
from infra.event_store import SqlEventLog
from projections import rebuild as rebuilding
from projections import shadow
from projections.projector import replay
from projections.rebuild import IMAGE_STATUS, rebuild
from projections.rows import COLUMNS, ImageRow
from projections.sql import Database, SqlReadModel, row_from_values
from projections.tracking import SqlTracking
from projections.verify import verify
from tests.fakes import an_upload
from tests.unit.workloads import Step, steps
from workers.follower import LogFollower
from workers.projector import ProjectorRunner

if TYPE_CHECKING:
    from tests.integration.backends import Backend

pytest_plugins = ["tests.integration.backends"]  # the `backend` fixtures

ROOT = Path(__file__).resolve().parents[2]


class Service:
    """The write side and the live projector of one backend, driven by a test."""

    def __init__(self, backend: Backend) -> None:
        self.commands: ImageCommands = backend.commands()
        self.log = SqlEventLog(self.commands)
        self.database: Database = backend.database()
        self.read_model = SqlReadModel(self.database)
        self.tracking = SqlTracking(self.database)
        self.slots: dict[int, UUID] = {}

    def run(self, workload: list[Step]) -> None:
        """Play a workload of (image slot, action) on real commands; refused ones are skipped."""
        for slot, action in workload:
            image_id = self.slots.get(slot)
            if image_id is None or action == "upload":
                if image_id is None:
                    self.slots[slot] = self.upload()
                continue
            with contextlib.suppress(InvalidTransition, ImageNotFound):  # refused, as a client is
                self.act(image_id, action)

    def upload(self) -> UUID:
        return self.commands.upload(an_upload("resize:100x100"))

    def act(self, image_id: UUID, action: str) -> None:
        request_no = self.commands.image(image_id).request_no
        match action:
            case "request":
                self.commands.request_processing(
                    RequestProcessing(image_id=image_id, spec="grayscale")
                )
            case "complete":
                self.commands.complete_processing(
                    CompleteProcessing(
                        image_id=image_id,
                        request_no=request_no,
                        result_key="results/x",
                        result=Picture(content_type="image/png", size=9, width=3, height=2),
                    )
                )
            case "fail":
                self.commands.fail_processing(
                    FailProcessing(image_id=image_id, request_no=request_no, reason="broken")
                )
            case "delete":
                self.commands.delete(DeleteImage(image_id=image_id))

    def project(self) -> None:
        """Let the live projector catch up with the log."""
        asyncio.run(self.follower().drain())

    def follower(self, batch_size: int = 7) -> LogFollower:
        runner = ProjectorRunner(self.read_model, self.log)
        return LogFollower(
            self.log,
            self.tracking,
            runner,
            batch_size=batch_size,
            poll_interval=0.005,
            retry_pause=0.01,
        )

    def rows(self) -> dict[UUID, ImageRow]:
        with self.database.transaction(readonly=True) as cursor:
            cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM image_status")
            return {row.id: row for row in map(row_from_values, cursor.fetchall())}

    def position(self) -> int:
        return self.tracking.position(IMAGE_STATUS.name)

    def expected_rows(self) -> dict[UUID, ImageRow]:
        """What each image's own history builds."""
        built = {image_id: replay(self.log.history(image_id)) for image_id in self.slots.values()}
        return {image_id: row for image_id, row in built.items() if row is not None}

    def schema(self) -> set[tuple[Any, ...]]:
        """The image_status table's indexes and constraints, by name."""
        with self.database.transaction(readonly=True) as cursor:
            if self.database.dialect == "sqlite":
                cursor.execute(
                    "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'image_status'"
                )
            else:
                cursor.execute(
                    "SELECT conname::text, contype::text FROM pg_constraint "
                    "WHERE conrelid = 'image_status'::regclass UNION ALL "
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'image_status'"
                )
            return {tuple(row) for row in cursor.fetchall()}


@pytest.fixture
def service(backend: Backend) -> Service:
    return Service(backend)


@contextlib.contextmanager
def live_projector(service: Service) -> Iterator[None]:
    """The service's projector following the log in a thread of its own, as `imgproc dev`
    runs it (in memory, it keeps the position it last saved)."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(service.follower().run())
    thread = threading.Thread(target=loop.run_until_complete, args=(asyncio.wait([task]),))
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join()
        loop.close()


class Writer:
    """Clients changing images all the time, in a thread of their own."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.actions = 0
        self._stop = threading.Event()
        self._random = random.Random(5)
        self._thread = threading.Thread(target=self._write)

    def _write(self) -> None:
        while not self._stop.is_set():
            slot = self._random.randrange(12)
            action = self._random.choice(["upload", "request", "complete", "fail", "delete"])
            if action == "delete" and self._random.random() < 0.7:
                action = "upload"  # fewer deletions: deleted images change no more
            if action == "upload" and slot in self.service.slots:
                self.service.slots[slot + 100 * self.actions] = self.service.upload()
            else:
                self.service.run([(slot, action)])
            self.actions += 1

    def wait_for(self, actions: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.actions < actions:
            assert time.monotonic() < deadline, "the writer is stuck"
            time.sleep(0.001)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(workload=steps, batch_size=st.integers(1, 30))
def test_a_rebuild_equals_the_live_projection_after_any_workload(
    service: Service, workload: list[Step], batch_size: int
) -> None:
    service.run(workload)
    service.project()
    live, position = service.rows(), service.position()

    done = rebuild(service.database, service.log, IMAGE_STATUS, batch_size=batch_size)

    assert service.rows() == live == service.expected_rows()
    assert done.position == position == service.position() == service.log.head()


def test_rebuild_and_verify_hold_when_their_rows_do_not_fit_in_memory(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("projections.applier.CACHE_ROWS", 2)
    service.run([(i, "upload") for i in range(6)] + [(i, "complete") for i in range(0, 6, 2)])
    service.project()
    live = service.rows()

    rebuild(service.database, service.log, IMAGE_STATUS, batch_size=3)
    checked = verify(service.database, service.log, IMAGE_STATUS, batch_size=3)

    assert service.rows() == live == service.expected_rows()
    assert (checked.ok, checked.rows) == (True, 6)


def test_the_rebuilt_table_keeps_the_names_and_indexes_the_migrations_gave_it(
    service: Service,
) -> None:
    service.run([(0, "upload"), (1, "upload"), (0, "complete")])
    service.project()
    before = service.schema()

    rebuild(service.database, service.log, IMAGE_STATUS)
    rebuild(service.database, service.log, IMAGE_STATUS)  # and again, from a rebuilt table

    # SQLite quotes a renamed table's name in the CREATE statement it keeps.
    assert {tuple(str(v).replace('"', "") for v in row) for row in service.schema()} == {
        tuple(str(v).replace('"', "") for v in row) for row in before
    }


def test_a_rebuild_while_clients_write_and_the_projector_runs_loses_nothing(
    service: Service,
) -> None:
    service.run([(slot, "upload") for slot in range(12)])
    with live_projector(service), Writer(service) as writer:
        writer.wait_for(20)
        started_at = service.log.head()

        def meanwhile(_: rebuilding.Progress) -> None:
            writer.wait_for(writer.actions + 1)  # something new every batch

        done = rebuild(
            service.database, service.log, IMAGE_STATUS, batch_size=5, progress=meanwhile
        )
        writer.wait_for(writer.actions + 20)  # and more after the swap
    service.project()

    assert done.position > started_at
    assert service.log.head() > done.position
    assert service.rows() == service.expected_rows()
    assert service.position() == service.log.head()
    assert verify(service.database, service.log, IMAGE_STATUS).ok


class RacingLog:
    """The event log, where more happens just after the rebuild has read it to its end."""

    def __init__(self, log: SqlEventLog, meanwhile: Callable[[], None]) -> None:
        self.log = log
        self.meanwhile: Callable[[], None] | None = meanwhile

    def stream(
        self, after: int, size: int, *, up_to: int | None = None
    ) -> Iterator[Sequence[EventEnvelope]]:
        found = False
        for batch in self.log.stream(after, size, up_to=up_to):
            found = True
            yield batch
        if not found and self.meanwhile is not None:
            self.meanwhile()
            self.meanwhile = None

    def head(self) -> int:
        return self.log.head()


def test_what_the_live_projector_applies_while_the_rebuild_finishes_is_handed_over(
    service: Service,
) -> None:
    service.run([(slot, "upload") for slot in range(3)])
    service.project()

    def clients_and_the_projector_move_on() -> None:
        service.run([(0, "complete"), (1, "fail"), (2, "delete"), (3, "upload")])
        service.project()  # the live table is now ahead of the shadow

    racing = RacingLog(service.log, clients_and_the_projector_move_on)
    done = rebuild(service.database, racing, IMAGE_STATUS)
    service.project()

    assert racing.meanwhile is None  # it did happen
    assert done.position == service.log.head() == service.position()
    assert service.rows() == service.expected_rows()


class Crash(Exception):
    pass


def test_a_rebuild_that_fails_half_way_leaves_the_live_table_as_it_was(
    service: Service,
) -> None:
    service.run([(slot, action) for action in ("upload", "complete") for slot in range(4)])
    service.project()
    live, position = service.rows(), service.position()

    def crash_on_the_second_batch(progress: rebuilding.Progress) -> None:
        if progress.events > 3:
            raise Crash

    with pytest.raises(Crash):
        rebuild(
            service.database,
            service.log,
            IMAGE_STATUS,
            batch_size=3,
            progress=crash_on_the_second_batch,
        )

    assert (service.rows(), service.position()) == (live, position)
    rebuild(service.database, service.log, IMAGE_STATUS, batch_size=3)  # runs again
    assert (service.rows(), service.position()) == (live, position)


def test_a_swap_that_fails_is_rolled_back_whole(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.run([(slot, "upload") for slot in range(3)])
    service.project()
    live, position, schema = service.rows(), service.position(), service.schema()
    service.run([(0, "complete"), (1, "fail")])  # for the swap to catch up with

    def swap_then_crash(*args: Any) -> None:
        real_swap(*args)
        raise Crash

    real_swap = rebuilding.swap
    monkeypatch.setattr(rebuilding, "swap", swap_then_crash)
    with pytest.raises(Crash):
        rebuild(service.database, service.log, IMAGE_STATUS)

    assert (service.rows(), service.position(), service.schema()) == (live, position, schema)
    monkeypatch.undo()
    rebuild(service.database, service.log, IMAGE_STATUS)
    assert service.rows() == service.expected_rows()


class LockNotGranted(Exception):
    pass


def test_a_swap_that_could_not_get_its_locks_is_tried_again(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.run([(0, "upload"), (1, "upload")])
    service.project()
    racing = RacingLog(service.log, lambda: service.run([(0, "complete"), (1, "fail")]))
    refusals = iter([LockNotGranted()])

    def swap_after_one_refusal(*args: Any) -> None:
        refusal = next(refusals, None)
        if refusal is not None:
            raise refusal
        real_swap(*args)

    real_swap = rebuilding.swap
    monkeypatch.setattr(rebuilding, "swap", swap_after_one_refusal)
    done = rebuild(service.database, racing, IMAGE_STATUS, transient=(LockNotGranted,))

    assert racing.meanwhile is None  # the swap had events to catch up with, twice
    assert done.position == service.log.head() == service.position()
    assert service.rows() == service.expected_rows()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_swap_kept_waiting_by_a_long_reader_gives_up_and_changes_nothing(
    backend: Backend, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.run([(0, "upload"), (1, "upload"), (1, "complete")])
    service.project()
    live, position = service.rows(), service.position()
    monkeypatch.setattr(shadow, "LOCK_TIMEOUT_SECONDS", 1)
    reader = backend.database()

    with reader.transaction(readonly=True) as cursor, pytest.raises(DependencyUnavailable):
        cursor.execute("SELECT count(*) FROM image_status")  # and holds it until the end
        rebuild(service.database, service.log, IMAGE_STATUS, transient=(DependencyUnavailable,))

    assert (service.rows(), service.position()) == (live, position)


def test_a_rebuild_killed_mid_way_leaves_the_live_table_and_can_run_again(
    backend: Backend, service: Service
) -> None:
    service.run([(slot, action) for slot in range(300) for action in ("upload", "complete")])
    service.project()
    live, position = service.rows(), service.position()

    rebuilding_process = subprocess.Popen(
        [sys.executable, "-m", "cli", "projections", "rebuild", "--batch-size", "1"],
        cwd=backend.settings.data_dir.parent,
        env=imgproc_env(backend),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_shadow_rows(service, 30, rebuilding_process)
    finally:
        rebuilding_process.send_signal(signal.SIGKILL)
        rebuilding_process.wait()

    assert (service.rows(), service.position()) == (live, position)
    rebuild(service.database, service.log, IMAGE_STATUS)
    assert (service.rows(), service.position()) == (live, position)


def imgproc_env(backend: Backend) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGPROC_")}
    env["IMGPROC_DATA_DIR"] = str(backend.settings.data_dir)
    if backend.settings.database_url is not None:
        env["IMGPROC_DATABASE_URL"] = backend.settings.database_url
    env["PYTHONPATH"] = str(ROOT)
    return env


def wait_for_shadow_rows(service: Service, rows: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        with contextlib.suppress(Exception), service.database.transaction() as cursor:
            cursor.execute("SELECT count(*) FROM image_status_rebuild")
            if cursor.fetchone()[0] >= rows:
                return
        time.sleep(0.01)
    raise AssertionError("the rebuild never got going")


def test_verify_passes_a_projection_that_is_only_behind(service: Service) -> None:
    service.run([(0, "upload"), (1, "upload"), (1, "complete"), (2, "upload"), (2, "delete")])
    service.project()
    service.run([(0, "fail"), (3, "upload")])  # recorded, not projected yet

    checked = verify(service.database, service.log, IMAGE_STATUS, batch_size=2)

    assert checked.ok
    assert checked.position == service.position() < checked.head == service.log.head()
    assert (checked.rows, checked.behind) == (4, 2)


def test_verify_does_not_need_a_position_for_a_projector_fed_from_kafka(
    service: Service,
) -> None:
    service.run([(0, "upload"), (1, "upload"), (1, "complete")])
    service.project()
    service.tracking.set_position(IMAGE_STATUS.name, 0)  # offsets are kept elsewhere
    service.run([(0, "complete"), (2, "upload")])  # not consumed yet

    checked = verify(service.database, service.log, IMAGE_STATUS)

    assert (checked.ok, checked.behind, checked.position) == (True, 2, 0)


def test_verify_catches_rows_changed_behind_its_back(service: Service) -> None:
    service.run([(slot, action) for slot in range(5) for action in ("upload", "complete")])
    service.project()
    changed, removed, left_behind = service.slots[1], service.slots[2], service.slots[3]
    stranger = msgspec.structs.replace(service.rows()[service.slots[0]], id=uuid4())
    uploaded_only = replay(service.log.history(left_behind)[:1])
    assert uploaded_only is not None
    with service.database.transaction() as cursor:  # save() never takes a row back in time
        cursor.execute("DELETE FROM image_status WHERE id = ?", [str(left_behind)])
    service.read_model.save([stranger, uploaded_only])
    with service.database.transaction() as cursor:
        cursor.execute("UPDATE image_status SET error = 'tampered' WHERE id = ?", [str(changed)])
        cursor.execute("DELETE FROM image_status WHERE id = ?", [str(removed)])

    checked = verify(service.database, service.log, IMAGE_STATUS)

    assert not checked.ok
    assert (checked.drifted, checked.behind) == (4, 0)
    found = {difference.image_id: difference for difference in checked.differences}
    assert found[changed].fields() == {"error": ("tampered", None)}
    assert found[removed].live is None and found[removed].rebuilt is not None
    assert found[stranger.id].rebuilt is None
    assert found[left_behind].fields()["status"] == ("uploaded", "processed")
