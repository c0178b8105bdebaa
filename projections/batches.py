"""Reading the event log in batches, up to its end or up to a position: page by page
(`batches`), or streamed by the event store for bulk readers (`streamed`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Protocol, TypeVar

from domain.events import EventEnvelope

T = TypeVar("T")


class Readable(Protocol):
    """What reading in batches needs of the log (commands/log.py's EventLog has it)."""

    def read(self, after: int, limit: int) -> Sequence[EventEnvelope]: ...


class Streamable(Protocol):
    """What streaming needs of the log (infra/event_store.py's SqlEventLog has it)."""

    def stream(
        self, after: int, size: int, *, up_to: int | None = None
    ) -> Iterator[Sequence[EventEnvelope]]:
        """The events after `after` (up to `up_to`, included), in order, in batches of at
        most `size`, until the log as it stood when the stream began has no more."""
        ...


def batches(
    log: Readable, after: int, size: int, *, up_to: int | None = None
) -> Iterator[Sequence[EventEnvelope]]:
    """The events after position `after`, `size` at a time, in order, until the log has no
    more or, given `up_to`, up to that position (included)."""
    while up_to is None or after < up_to:
        batch = log.read(after, size)
        if up_to is not None and batch and batch[-1].position > up_to:
            batch = [event for event in batch if event.position <= up_to]
        if not batch:
            return
        yield batch
        after = batch[-1].position


def streamed(
    log: Streamable,
    after: int,
    size: int,
    *,
    up_to: int | None = None,
    read_ahead: bool = False,
) -> Iterator[Sequence[EventEnvelope]]:
    """As `batches`, from the log's streams: without `up_to`, one stream after another
    until one finds nothing new.

    With `read_ahead`, the stream is read and decoded in a thread while the caller works
    on the batch before: the database's share of the work runs beside the caller's.
    """

    def stream() -> Iterator[Sequence[EventEnvelope]]:
        position = after
        while True:
            found = False
            for batch in log.stream(position, size, up_to=up_to):
                if batch:
                    found, position = True, batch[-1].position
                    yield batch
            if not found or up_to is not None:
                return

    return ahead(stream()) if read_ahead else stream()


def ahead(source: Iterable[T]) -> Iterator[T]:
    """The items of `source`, each next one taken from it in a thread while the caller
    works on the one before; `source` is closed in that thread when the caller stops."""
    items = iter(source)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-reader") as reader:
        pending = reader.submit(next, items, None)
        try:
            while (item := pending.result()) is not None:
                pending = reader.submit(next, items, None)
                yield item
        finally:
            wait([pending])
            close = getattr(items, "close", None)
            if close is not None:
                reader.submit(close).result()
