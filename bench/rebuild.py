"""Rebuild throughput against the event store's own read of the same log, on SQLite and
PostgreSQL.

For each backend a log of at least 200 000 events is recorded in bulk (aggregates
built in memory, stored through the event store's recorder). Then, in the same
run, each best of a few tries:

- the library's read: the whole log through its `select_notifications` and
  mapper, then our envelopes, nothing written (the baseline);
- our fast read: the log streamed and decoded by msgspec (infra/log_stream.py),
  nothing written;
- the rebuild of the image_status projection from it (shadow table, swap);
- a verification of the live table against a fresh rebuild.

Each is printed in events/s, with its ratio to the library's read.

    python -m bench rebuild
    BENCH_REBUILD_EVENTS=500000 python -m bench rebuild

PostgreSQL is reached through BENCH_POSTGRES_URL (a postgresql:// URL of a server
where a scratch database may be created and dropped; default the local one), and
skipped when it does not answer.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import psycopg
from psycopg import sql

from cli.bootstrap import open_database
from commands.application import ImageCommands
from domain.facts import Picture, Upload
from domain.image import Image
from infra.event_store import SqlEventLog, open_image_commands
from infra.migrate import upgrade
from infra.settings import Settings
from projections.rebuild import BATCH_EVENTS, IMAGE_STATUS, rebuild
from projections.verify import verify

EVENTS = int(os.environ.get("BENCH_REBUILD_EVENTS", "200000"))
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IMAGES_PER_WAVE = 1_000  # images whose lives are recorded together, interleaved
RUNS = 3  # each measurement is the best of this many
RESULT = Picture(content_type="image/webp", size=2048, width=100, height=75)


@dataclass
class Figures:
    backend: str
    events: int
    rows: int
    generate_s: float
    library_s: float  # the library's read: the baseline
    fast_s: float
    rebuild_s: float
    verify_s: float

    def rate(self, seconds: float) -> str:
        return f"{self.events / seconds:,.0f}"

    def ratio(self, seconds: float) -> str:
        return f"{self.library_s / seconds:.2f}x"


def record_log(app: ImageCommands, events: int) -> int:
    """Record image lives until the log holds at least `events`; return the images."""
    recorded = images = 0
    while recorded < events:
        wave = [_uploaded(images + i) for i in range(IMAGES_PER_WAVE)]
        for number, image in enumerate(wave):
            if number % 7 == 3:
                image.fail_processing(request_no=1, reason="corrupt")
            else:
                image.complete_processing(
                    request_no=1, result_key=f"results/{image.id}", result=RESULT
                )
            if number % 5 == 0:
                image.request_processing("grayscale|blur:2")
            if number % 11 == 0:
                image.delete()
        stored = [app.mapper.to_stored_event(e) for image in wave for e in image.collect_events()]
        app.recorder.insert_events(stored)
        recorded += len(stored)
        images += len(wave)
    return images


def _uploaded(number: int) -> Image:
    picture = Picture(content_type="image/jpeg", size=150_000 + number, width=1920, height=1080)
    upload = Upload(file_name=f"photo-{number}.jpg", picture=picture)
    image = Image.uploaded(uuid4(), upload, original_key=f"originals/{number}")
    image.request_processing("resize:100x100|format:webp")
    return image


def read_everything(log: SqlEventLog) -> int:
    """The baseline: the whole log read through the library's mapper, nothing written."""
    position = count = 0
    while batch := log.read(position, BATCH_EVENTS):
        position, count = batch[-1].position, count + len(batch)
    return count


def stream_everything(log: SqlEventLog) -> int:
    """The whole log streamed and decoded by our fast read, nothing written."""
    return sum(len(batch) for batch in log.stream(0, BATCH_EVENTS))


def best(runs: int, *works: Callable[[], object]) -> list[float]:
    """The shortest time of each work over `runs` rounds, the works taking turns in each
    round, so that a busy moment of the machine does not fall on one of them only."""
    times: list[list[float]] = [[] for _ in works]
    for _ in range(runs):
        for work, taken in zip(works, times, strict=True):
            started = time.perf_counter()
            work()
            taken.append(time.perf_counter() - started)
    return [min(taken) for taken in times]


def measure(backend: str, settings: Settings) -> Figures:
    upgrade(settings)
    app = open_image_commands(settings)
    database = open_database(settings)
    try:
        log = SqlEventLog(app)
        started = time.perf_counter()
        record_log(app, EVENTS)
        generate_s = time.perf_counter() - started
        events = read_everything(log)
        assert stream_everything(log) == events, f"{backend}: the fast read lost events"
        rebuild(database, log, IMAGE_STATUS)  # the live table, full, as a rebuild finds it
        library_s, fast_s, rebuild_s = best(
            RUNS,
            lambda: read_everything(log),
            lambda: stream_everything(log),
            lambda: rebuild(database, log, IMAGE_STATUS),
        )
        started = time.perf_counter()
        checked = verify(database, log, IMAGE_STATUS)
        verify_s = time.perf_counter() - started
        assert checked.ok, f"{backend}: the rebuilt projection drifted"
        return Figures(
            backend, events, checked.rows, generate_s, library_s, fast_s, rebuild_s, verify_s
        )
    finally:
        database.close()
        app.close()


@contextlib.contextmanager
def postgres_database() -> Iterator[str | None]:
    """A scratch database, dropped afterwards; None when there is no server."""
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        yield None
        return
    name = f"imgproc_bench_{secrets.token_hex(4)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def report(figures: list[Figures]) -> None:
    header = ("backend", "events", "rows", "library read", "fast read", "rebuild", "verify")
    print(f"{header[0]:<10}" + "".join(f"{title:>14}" for title in header[1:]) + "   (events/s)")
    for f in figures:
        rates = [f.rate(f.library_s), f.rate(f.fast_s), f.rate(f.rebuild_s), f.rate(f.verify_s)]
        print(f"{f.backend:<10}{f.events:>14,}{f.rows:>14,}" + "".join(f"{r:>14}" for r in rates))
        ratios = ["1.00x", f.ratio(f.fast_s), f.ratio(f.rebuild_s), f.ratio(f.verify_s)]
        print(f"{'  vs library read':<38}" + "".join(f"{r:>14}" for r in ratios))
    print(
        f"(log recorded in bulk in {', '.join(f'{f.generate_s:.0f}s' for f in figures)}; "
        f"best of {RUNS} runs taken in turns; ratios are events/s over the library read's)"
    )


def main() -> int:
    print(f"rebuild: {EVENTS:,} events or more per backend, batches of {BATCH_EVENTS:,}")
    figures = []
    with tempfile.TemporaryDirectory(prefix="imgproc-bench-") as scratch:
        figures.append(measure("sqlite", Settings(data_dir=Path(scratch))))
    with postgres_database() as url:
        if url is None:
            print(f"PostgreSQL skipped: no server at {POSTGRES_ADMIN_URL}")
        else:
            figures.append(measure("postgres", Settings(data_dir=Path("."), database_url=url)))
    report(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
