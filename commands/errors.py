from __future__ import annotations


class EventStoreUnavailable(Exception):
    """The event store cannot be reached; nothing was recorded."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"the event store is unavailable: {detail}")
