"""The projector's read model under Kafka: rows and Kafka offsets in one transaction.

The projector (workers/projector.py) saves its rows with a position, in one
transaction. Fed from Kafka, there is no single position: each partition has
its offset. `OffsetTrackingReadModel` stands in for the read model and, when
the projector saves, stores the offsets of the batch being handled instead.
Whoever is assigned a partition then seeks to the stored offset, so a batch
is applied once whatever Kafka redelivers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol
from uuid import UUID

from domain.status import ImageStatus
from projections.rows import ImageRow, Page
from projections.store import ReadModel

# (topic, partition) → the next offset to read
Offsets = Mapping[tuple[str, int], int]


class OffsetStore(Protocol):
    def save_with_offsets(
        self, consumer: str, rows: Sequence[ImageRow], offsets: Offsets
    ) -> None: ...

    def offsets(self, consumer: str, topic: str) -> dict[int, int]: ...


class OffsetReadModel(ReadModel, OffsetStore, Protocol):
    """A read model that can store Kafka offsets (projections/sql.py's SqlReadModel)."""


class OffsetTrackingReadModel:
    """A ReadModel whose `save` stores the staged Kafka offsets in place of a position.

    The Kafka driver stages each batch's offsets before handing the batch over,
    one batch at a time.
    """

    def __init__(self, inner: OffsetReadModel) -> None:
        self.inner = inner
        self._staged: dict[tuple[str, int], int] = {}

    def stage(self, offsets: Offsets) -> None:
        self._staged = dict(offsets)

    def save_offsets(self, consumer: str) -> None:
        """Store the staged offsets alone (a batch with nothing to apply)."""
        self.inner.save_with_offsets(consumer, [], self._staged)

    def offsets(self, consumer: str, topic: str) -> dict[int, int]:
        return self.inner.offsets(consumer, topic)

    # --- ReadModel ---

    def save(self, tracker: str, rows: Sequence[ImageRow], position: int) -> None:
        self.inner.save_with_offsets(tracker, rows, self._staged)

    def get(self, image_id: UUID) -> ImageRow | None:
        return self.inner.get(image_id)

    def get_many(self, image_ids: Iterable[UUID]) -> dict[UUID, ImageRow]:
        return self.inner.get_many(image_ids)

    def list(self, *, status: ImageStatus | None, limit: int, cursor: str | None) -> Page:
        return self.inner.list(status=status, limit=limit, cursor=cursor)

    def position(self, tracker: str) -> int:
        return self.inner.position(tracker)

    def set_position(self, tracker: str, position: int) -> None:
        self.inner.set_position(tracker, position)
