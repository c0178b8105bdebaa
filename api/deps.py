"""What the HTTP API needs from the rest of the service, handed in by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
from litestar.di import NamedDependency
from litestar.params import SkipValidation

from commands.application import ImageCommands
from commands.blobs import BlobStore
from commands.log import EventLog
from projections.queries import Pulse, ReadQueries

if TYPE_CHECKING:
    # Only the result type: the probe itself is passed in, so Pillow is not imported here.
    from infra.imaging import ImageInfo

T = TypeVar("T")


@dataclass(frozen=True)
class ApiServices:
    """The ports the API talks to, and the limits it enforces on uploads.

    `probe(file, max_pixels=...)` identifies an upload from its header (raising an
    InvalidImage subclass).

    A read that carries the version a command answered with waits up to
    `read_your_writes_wait` seconds for the projection to reach it: woken by `projected`
    when the projector runs in this process, else looking again every
    `read_your_writes_poll` seconds; then it asks the event store.

    `spool_bytes` is how much of an upload's file is held in memory before the rest
    goes to a temporary file (api/uploads.py): in `spool_dir` when given, else in the
    system's temporary directory. A local blob store links a file spooled on its own
    filesystem into place instead of copying it.
    """

    commands: ImageCommands
    queries: ReadQueries
    log: EventLog
    blobs: BlobStore
    probe: Callable[..., ImageInfo]
    max_pixels: int
    max_upload_bytes: int
    projected: Pulse = field(default_factory=Pulse)
    read_your_writes_wait: float = 2.0
    read_your_writes_poll: float = 0.02
    spool_bytes: int = 1024 * 1024
    spool_dir: Path | None = None


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking call (event store, read model, Pillow) off the event loop."""
    return await anyio.to_thread.run_sync(partial(function, *args, **kwargs))


# Handlers receive the services through Litestar's dependency injection; validation is
# skipped because they are live objects, not request data.
Services = NamedDependency[SkipValidation[ApiServices]]
