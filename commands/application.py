"""ImageCommands: the write side. One method per command; load, act, save."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import PersistenceError, RecordConflictError, Recording
from eventsourcing.utils import Environment, EnvType

from commands.errors import EventStoreUnavailable
from commands.messages import (
    CompleteProcessing,
    DeleteImage,
    FailProcessing,
    RequestProcessing,
    UploadImage,
)
from domain.errors import ImageAlreadyDeleted, ImageNotFound
from domain.image import Image

log = logging.getLogger(__name__)

T = TypeVar("T")

# Two writers racing on one image: the loser reloads and decides again.
CONFLICT_RETRIES = 5


def version_after_upload(command: UploadImage) -> int:
    """The image's version once ImageCommands.upload has recorded the command: its upload,
    and its processing request when a spec came with it."""
    return 1 if command.spec is None else 2


class ImageCommands(Application[UUID]):
    """Records what happens to images in the event store.

    Configured only by the `env` it is given (persistence module, database
    name, …): the process environment is not read, so settings stay in one place.
    `on_recorded` is called, in the committing thread, each time events have been
    committed, whichever part of the process ran the command: it wakes the followers
    of the log in this process.
    """

    name = "images"

    def __init__(
        self, env: EnvType | None = None, *, on_recorded: Callable[[], None] | None = None
    ) -> None:
        self._on_recorded = on_recorded
        super().__init__(env)

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        return Environment(name, dict(env or {}))

    def upload(self, command: UploadImage) -> UUID:
        image = Image.uploaded(command.image_id, command.upload, command.original_key)
        if command.spec is not None:
            image.request_processing(command.spec)
        try:
            self._save(image)
        except RecordConflictError:
            if not self._is_stored(image):
                raise
        return image.id

    def request_processing(self, command: RequestProcessing) -> int:
        """The image's version once the request is recorded."""

        def act(image: Image) -> int:
            image.request_processing(command.spec)
            return image.version

        return self._change(command.image_id, act)

    def complete_processing(self, command: CompleteProcessing) -> bool:
        """True when recorded; False when the request was already answered or superseded."""
        return self._change(
            command.image_id,
            lambda image: image.complete_processing(
                request_no=command.request_no,
                result_key=command.result_key,
                result=command.result,
            ),
        )

    def fail_processing(self, command: FailProcessing) -> bool:
        """True when recorded; False when the request was already answered or superseded."""
        return self._change(
            command.image_id,
            lambda image: image.fail_processing(
                request_no=command.request_no, reason=command.reason
            ),
        )

    def delete(self, command: DeleteImage) -> int:
        """The image's version once the deletion is recorded."""

        def act(image: Image) -> int:
            image.delete()
            return image.version

        try:
            return self._change(command.image_id, act)
        except ImageAlreadyDeleted:
            raise ImageNotFound(command.image_id) from None

    def image(self, image_id: UUID) -> Image:
        try:
            image: Image = self.repository.get(image_id)
        except AggregateNotFoundError:
            raise ImageNotFound(image_id) from None
        except PersistenceError as e:
            raise EventStoreUnavailable(str(e)) from e
        return image

    def _change(self, image_id: UUID, act: Callable[[Image], T]) -> T:
        for attempt in range(CONFLICT_RETRIES):
            image = self.image(image_id)
            outcome = act(image)
            try:
                self._save(image)
            except RecordConflictError:
                if self._is_stored(image):
                    return outcome
                if attempt == CONFLICT_RETRIES - 1:
                    raise
                continue
            return outcome
        raise AssertionError("unreachable")

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        """The library calls this after every commit. A wake-up is only a hint: the events
        are recorded, so a failure here is logged, never raised."""
        if not recordings or self._on_recorded is None:
            return
        try:
            self._on_recorded()
        except Exception:
            log.exception("waking the followers of the log failed")

    def _is_stored(self, image: Image) -> bool:
        """Whether a save that reported a conflict had in fact stored these events: the
        store retries an insert whose reply was lost, and then meets its own rows."""
        try:
            stored = self.image(image.id)
        except ImageNotFound:
            return False
        return stored.version == image.version and stored.modified_on == image.modified_on

    def _save(self, image: Image) -> None:
        try:
            self.save(image)
        except RecordConflictError:
            raise
        except PersistenceError as e:
            raise EventStoreUnavailable(str(e)) from e
