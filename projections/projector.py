"""The image_status projector: how each event changes an image's row.

Pure: rows in, rows out. Idempotent on (image_id, version): an event at or
below the row's version changes nothing; an event past the next version means
one was lost (VersionGap: projections/applier.py repairs it from the image's history).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from domain import events as ev
from domain.status import ImageStatus
from projections.rows import ImageRow


class VersionGap(Exception):
    def __init__(self, event: ev.EventEnvelope, applied: int) -> None:
        self.event = event
        self.applied = applied
        super().__init__(
            f"image {event.image_id}: event version {event.version} arrived after version {applied}"
        )


def apply(row: ImageRow | None, event: ev.EventEnvelope) -> ImageRow | None:
    """The row after the event; the same row when the event was applied already."""
    applied = row.version if row is not None else 0
    if event.version <= applied:
        return row
    if event.version != applied + 1:
        raise VersionGap(event, applied)
    if row is None:
        return _created(event)
    return _changed(row, event)


def replay(events: Iterable[ev.EventEnvelope], row: ImageRow | None = None) -> ImageRow | None:
    """The row that an image's events build: its full history, or those after `row`."""
    for event in events:
        row = apply(row, event)
    return row


def _created(event: ev.EventEnvelope) -> ImageRow | None:
    match event.data:
        case ev.ImageUploaded() as uploaded:
            # Field by field rather than through domain.facts' values: this runs for every
            # image a rebuild builds.
            return ImageRow(
                id=event.image_id,
                status=ImageStatus.UPLOADED,
                file_name=uploaded.file_name,
                content_type=uploaded.content_type,
                size=uploaded.size,
                width=uploaded.width,
                height=uploaded.height,
                original_key=uploaded.original_key,
                created_at=event.occurred_at,
                updated_at=event.occurred_at,
                created_position=event.position,
                version=event.version,
            )
        case _:
            raise ValueError(f"image {event.image_id} does not start with an upload")


def _changed(row: ImageRow, event: ev.EventEnvelope) -> ImageRow:
    touched = {"version": event.version, "updated_at": event.occurred_at}
    match event.data:
        case ev.ProcessingRequested(request_no=request_no, spec=spec):
            return msgspec.structs.replace(
                row,
                status=ImageStatus.PROCESSING,
                spec=spec,
                request_no=request_no,
                error=None,
                **touched,
            )
        case ev.ProcessingCompleted() as done:
            return msgspec.structs.replace(
                row,
                status=ImageStatus.PROCESSED,
                result_key=done.result_key,
                result_content_type=done.content_type,
                result_size=done.size,
                result_width=done.width,
                result_height=done.height,
                **touched,
            )
        case ev.ProcessingFailed(reason=reason):
            return msgspec.structs.replace(row, status=ImageStatus.FAILED, error=reason, **touched)
        case ev.ImageDeleted():
            return msgspec.structs.replace(row, status=ImageStatus.DELETED, **touched)
        case ev.ImageUploaded():
            raise ValueError(f"image {event.image_id} uploaded twice")
