"""Reading the event log in batches, up to its end or up to a position."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from domain.events import EventEnvelope


class Readable(Protocol):
    """What reading in batches needs of the log (commands/log.py's EventLog has it)."""

    def read(self, after: int, limit: int) -> Sequence[EventEnvelope]: ...


def batches(
    log: Readable,
    after: int,
    size: int,
    *,
    up_to: int | None = None,
    read_ahead: bool = False,
) -> Iterator[Sequence[EventEnvelope]]:
    """The events after position `after`, `size` at a time, in order, until the log has no
    more or, given `up_to`, up to that position (included).

    With `read_ahead`, each batch is read in a thread while the caller works on the one
    before, so that reading and writing overlap where they wait on I/O.
    """

    def read(position: int) -> Sequence[EventEnvelope]:
        if up_to is not None and position >= up_to:
            return []
        batch = log.read(position, size)
        if up_to is not None and batch and batch[-1].position > up_to:
            return [event for event in batch if event.position <= up_to]
        return batch

    if not read_ahead:
        while batch := read(after):
            yield batch
            after = batch[-1].position
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-reader") as reader:
        pending = reader.submit(read, after)
        while batch := pending.result():
            pending = reader.submit(read, batch[-1].position)
            yield batch
