"""The fast stream of the event log (infra/log_stream.py) on SQLite and PostgreSQL: it
yields exactly what the library's own read of the log yields."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from commands.application import ImageCommands
from domain.events import EVENT_TYPES, EventEnvelope, encode
from domain.facts import Picture, Upload
from domain.image import Image
from infra import event_store
from infra.event_store import SqlEventLog

if TYPE_CHECKING:
    from tests.integration.backends import Backend

pytest_plugins = ["tests.integration.backends"]  # the `backend` fixtures

# Text that JSON, COPY and SQL each escape in their own way.
AWKWARD = 'a\\b "quoted" \\"x\\" tab\there new\nline ü € 😀 %s ? \' \\N'
RESULT = Picture(content_type="image/webp", size=321, width=100, height=75)


def record_every_event_type(app: ImageCommands, images: int = 3) -> None:
    for number in range(images):
        picture = Picture(content_type="image/png", size=1234 + number, width=640, height=480)
        upload = Upload(file_name=f"{AWKWARD} {number}.png", picture=picture)
        image = Image.uploaded(uuid4(), upload, original_key=f"originals/{AWKWARD}")
        image.request_processing(f"resize:{number + 1}x1")
        image.complete_processing(request_no=1, result_key=f"r/{AWKWARD}", result=RESULT)
        image.request_processing("grayscale")
        image.fail_processing(request_no=2, reason=AWKWARD)
        image.delete()
        app.save(image)


def streamed(
    log: SqlEventLog, after: int = 0, size: int = 4, up_to: int | None = None
) -> list[EventEnvelope]:
    batches = list(log.stream(after, size, up_to=up_to))
    assert all(0 < len(batch) <= size for batch in batches)
    return [event for batch in batches for event in batch]


def same(ours: list[EventEnvelope], library: list[EventEnvelope]) -> None:
    assert ours == library
    assert [encode(event) for event in ours] == [encode(event) for event in library]


def test_the_stream_yields_what_the_library_reads_for_every_event_type(
    backend: Backend,
) -> None:
    app = backend.commands()
    log = SqlEventLog(app)
    record_every_event_type(app)
    library = list(log.read(0, 1000))

    assert {event.type for event in library} == set(EVENT_TYPES)
    same(streamed(log), library)
    same(streamed(log, size=1000), library)
    same(streamed(log, after=2, size=3, up_to=7), [e for e in library if 2 < e.position <= 7])
    assert streamed(log, after=log.head()) == []


def test_events_the_stream_cannot_decode_are_read_through_the_library(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = backend.commands()
    log = SqlEventLog(app)
    record_every_event_type(app, images=2)
    library = list(log.read(0, 1000))
    known = event_store.event_topics(Image)
    # As if ProcessingFailed were stored under a topic the stream does not know.
    unknown = {topic: name for topic, name in known.items() if name != "ProcessingFailed"}
    monkeypatch.setattr(event_store, "event_topics", lambda _: unknown)
    read_again: list[tuple[int, int]] = []
    library_read = log.read

    def read(after: int, limit: int) -> list[EventEnvelope]:
        read_again.append((after, limit))
        return list(library_read(after, limit))

    monkeypatch.setattr(log, "read", read)

    same(streamed(log, size=5), library)
    # Only the batches holding a ProcessingFailed: events 5 and 11 of 12.
    assert read_again == [(0, 5), (10, 2)]
