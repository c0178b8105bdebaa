"""In-memory stand-ins for the ports, and a real ImageCommands on in-memory persistence.

Example::

    ports = fake_ports()                # commands, log, read_model, tracking, blobs
    ports.commands.upload(UploadImage(...))
    ports.project()                     # bring the read model up to the log's head
    image_bytes(64, 48, "JPEG")         # a real image, made with Pillow
    ports.blobs.failing = {"put_file"}  # the blob store refuses uploads
"""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO
from uuid import UUID, uuid4

from eventsourcing.persistence import Notification
from PIL import Image

from commands.application import ImageCommands
from commands.blobs import BlobStore
from commands.log import EventLog
from commands.messages import UploadImage
from domain.events import EventEnvelope, envelope
from domain.facts import Picture, Upload
from domain.keys import original_key
from domain.status import ImageStatus
from infra.blobs import CHUNK_SIZE
from infra.errors import BlobNotFound, DependencyUnavailable
from infra.settings import Settings
from projections.queries import ReadQueries
from projections.rows import ImageRow, Page
from projections.store import ReadModel, decode_cursor, encode_cursor
from projections.tracking import Tracking
from workers.projector import ProjectorRunner


class InMemoryBlobStore:
    """A BlobStore in a dict.

    Operations named in `failing` raise DependencyUnavailable, as an unreachable store would.
    """

    def __init__(self, chunk_size: int = CHUNK_SIZE) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.chunk_size = chunk_size
        self.failing: set[str] = set()

    def _available(self, operation: str) -> None:
        if operation in self.failing:
            raise DependencyUnavailable("blob store", f"{operation} failed")

    def _object(self, key: str) -> tuple[bytes, str]:
        try:
            return self.objects[key]
        except KeyError:
            raise BlobNotFound(key) from None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self._available("put")
        self.objects[key] = (bytes(data), content_type)

    async def put_file(self, key: str, file: BinaryIO, content_type: str) -> None:
        self._available("put_file")
        self.objects[key] = (file.read(), content_type)

    async def get(self, key: str) -> bytes:
        self._available("get")
        return self._object(key)[0]

    async def stream(self, key: str) -> AsyncGenerator[bytes, None]:
        self._available("stream")
        data = self._object(key)[0]
        for start in range(0, len(data), self.chunk_size):
            yield data[start : start + self.chunk_size]

    async def size(self, key: str) -> int:
        self._available("size")
        return len(self._object(key)[0])

    async def exists(self, key: str) -> bool:
        self._available("exists")
        return key in self.objects

    async def delete(self, key: str) -> None:
        self._available("delete")
        self.objects.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        self._available("delete_prefix")
        doomed = [key for key in self.objects if key.startswith(prefix)]
        for key in doomed:
            del self.objects[key]
        return len(doomed)

    async def check(self) -> None:
        self._available("check")


class InMemoryReadModel:
    """A ReadModel in a dict."""

    def __init__(self) -> None:
        self.rows: dict[UUID, ImageRow] = {}

    def get(self, image_id: UUID) -> ImageRow | None:
        return self.rows.get(image_id)

    def get_many(self, image_ids: Iterable[UUID]) -> dict[UUID, ImageRow]:
        return {i: self.rows[i] for i in image_ids if i in self.rows}

    def list(self, *, status: ImageStatus | None, limit: int, cursor: str | None) -> Page:
        if limit < 1:
            raise ValueError(f"limit must be positive, not {limit}")
        before = decode_cursor(cursor) if cursor is not None else None
        rows = sorted(self.rows.values(), key=lambda row: row.created_position, reverse=True)
        if status is None:
            rows = [row for row in rows if row.status is not ImageStatus.DELETED]
        else:
            rows = [row for row in rows if row.status is status]
        if before is not None:
            rows = [row for row in rows if row.created_position < before]
        page, more = rows[:limit], len(rows) > limit
        next_cursor = encode_cursor(page[-1].created_position) if more else None
        return Page(items=page, next_cursor=next_cursor)

    def save(self, rows: Sequence[ImageRow]) -> None:
        for row in rows:
            stored = self.rows.get(row.id)
            if stored is None or stored.version < row.version:
                self.rows[row.id] = row


class InMemoryReadQueries:
    """ReadQueries on an InMemoryReadModel's rows. `calls` counts the queries asked."""

    def __init__(self, model: InMemoryReadModel) -> None:
        self.model = model
        self.calls = 0

    async def get(self, image_id: UUID) -> ImageRow | None:
        self.calls += 1
        return self.model.get(image_id)

    async def list(self, *, status: ImageStatus | None, limit: int, cursor: str | None) -> Page:
        self.calls += 1
        return self.model.list(status=status, limit=limit, cursor=cursor)


class InMemoryTracking:
    """Tracking positions in a dict."""

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}

    def position(self, name: str) -> int:
        return self.positions.get(name, 0)

    def set_position(self, name: str, position: int) -> None:
        self.positions[name] = position


class InMemoryEventLog:
    """An EventLog over an ImageCommands application's own recorder."""

    def __init__(self, app: ImageCommands) -> None:
        self.app = app

    def read(self, after: int, limit: int) -> Sequence[EventEnvelope]:
        if limit <= 0:
            return []
        notifications = self.app.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )
        return [self._envelope(n) for n in notifications]

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def history(self, image_id: UUID, after_version: int = 0) -> Sequence[EventEnvelope]:
        # The aggregate's own sequence lacks notification ids; scanning the whole log is
        # fine for the small logs of tests.
        return [
            event
            for event in self.read(0, self.head())
            if event.image_id == image_id and event.version > after_version
        ]

    def _envelope(self, notification: Notification) -> EventEnvelope:
        event = self.app.mapper.to_domain_event(notification)
        state = event.__dict__  # the event's attributes, timestamp included
        return envelope(
            event_type=type(event).__name__,
            image_id=event.originator_id,
            version=event.originator_version,
            position=notification.id,
            occurred_at=state["timestamp"],
            state=state,
        )


def in_memory_event_store(
    on_recorded: Callable[[], None] | None = None,
) -> tuple[ImageCommands, InMemoryEventLog]:
    """A real ImageCommands on eventsourcing's in-memory persistence, and its log."""
    commands = ImageCommands(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, on_recorded=on_recorded
    )
    return commands, InMemoryEventLog(commands)


@dataclass
class FakePorts:
    """Every port, in memory, wired to one another."""

    commands: ImageCommands
    log: InMemoryEventLog
    read_model: InMemoryReadModel = field(default_factory=InMemoryReadModel)
    tracking: InMemoryTracking = field(default_factory=InMemoryTracking)
    blobs: InMemoryBlobStore = field(default_factory=InMemoryBlobStore)
    queries: InMemoryReadQueries = field(init=False)

    def __post_init__(self) -> None:
        self.queries = InMemoryReadQueries(self.read_model)

    def project(self) -> int:
        """Project every event after the projector's position; return how many there were."""
        projector = ProjectorRunner(self.read_model, self.log)
        after = self.tracking.position(projector.name)
        events = self.log.read(after, self.log.head() - after)
        projector.apply_batch(events)
        if events:
            self.tracking.set_position(projector.name, events[-1].position)
        return len(events)


def fake_ports() -> FakePorts:
    commands, log = in_memory_event_store()
    return FakePorts(commands=commands, log=log)


def image_bytes(
    width: int = 32,
    height: int = 24,
    format: str = "PNG",
    color: tuple[int, int, int] = (200, 40, 90),
) -> bytes:
    """A real image of one colour, encoded by Pillow in `format` (PNG, JPEG, GIF, WEBP...)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=format)
    return buffer.getvalue()


if TYPE_CHECKING:
    # The type checker holds each fake to its port.
    _blob_store: BlobStore = InMemoryBlobStore()
    _read_model: ReadModel = InMemoryReadModel()
    _read_queries: ReadQueries = InMemoryReadQueries(InMemoryReadModel())
    _tracking: Tracking = InMemoryTracking()
    _event_log: EventLog = InMemoryEventLog(ImageCommands())


def an_upload(spec: str | None = "resize:100x100", image_id: UUID | None = None) -> UploadImage:
    """The command an upload of a 640x480 PNG records, its original at the usual key."""
    image_id = image_id or uuid4()
    picture = Picture(content_type="image/png", size=1234, width=640, height=480)
    return UploadImage(
        image_id=image_id,
        upload=Upload(file_name="cat.png", picture=picture),
        original_key=original_key(image_id),
        spec=spec,
    )


def api_limits(**changes: int) -> dict[str, int]:
    """ApiServices' limits on uploads, from the default settings, with `changes`."""
    defaults = Settings()
    limits = {"max_pixels": defaults.max_pixels, "max_upload_bytes": defaults.max_upload_bytes}
    return limits | changes
