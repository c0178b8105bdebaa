"""The read-model port: rows and the positions of whoever writes them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol
from uuid import UUID

from domain.status import ImageStatus
from projections.rows import ImageRow, Page


class InvalidCursor(ValueError):
    def __init__(self, cursor: str) -> None:
        super().__init__(f"invalid cursor {cursor!r}")


class ReadModel(Protocol):
    """Synchronous: call it from async code through a worker thread."""

    def get(self, image_id: UUID) -> ImageRow | None: ...

    def get_many(self, image_ids: Iterable[UUID]) -> dict[UUID, ImageRow]: ...

    def list(self, *, status: ImageStatus | None, limit: int, cursor: str | None) -> Page:
        """Newest first; deleted images only when asked for by status."""
        ...

    def save(self, tracker: str, rows: Sequence[ImageRow], position: int) -> None:
        """Write rows and the tracker's position in one transaction."""
        ...

    def position(self, tracker: str) -> int:
        """The last position the tracker stored, 0 when it has none."""
        ...

    def set_position(self, tracker: str, position: int) -> None: ...
