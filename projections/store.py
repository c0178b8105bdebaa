"""The read-model port: the rows the reads answer from, and the cursors of their pages."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Protocol
from uuid import UUID

from domain.status import ImageStatus
from projections.rows import ImageRow, Page

# Positions are BIGINT: a larger one could never have been issued, and the drivers
# refuse to bind it.
POSITION_LIMIT = 2**63


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

    def save(self, rows: Sequence[ImageRow]) -> None:
        """Upsert the rows together; a row never replaces a newer version of itself."""
        ...


def encode_cursor(created_position: int) -> str:
    """The cursor of the page after the row created at this position."""
    return base64.urlsafe_b64encode(str(created_position).encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> int:
    """The created_position the previous page ended at; InvalidCursor for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
        position = int(decoded)
    except ValueError:  # binascii.Error and UnicodeDecodeError among them
        raise InvalidCursor(cursor) from None
    if not 1 <= position < POSITION_LIMIT or encode_cursor(position) != cursor:
        raise InvalidCursor(cursor)
    return position
