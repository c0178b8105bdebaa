"""The Image aggregate: one uploaded image and everything done to it."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import AlreadyProcessing, ImageAlreadyDeleted
from domain.facts import Picture, Upload
from domain.status import ImageStatus


class Image(Aggregate):
    """An uploaded image, processed on request.

    Each processing request is numbered (1, 2, …); completion and failure name
    the request they answer, so a late or repeated answer to an old request
    changes nothing.

    The decorated methods' parameters name the stored events' attributes, flat
    like the public events; the methods given an Upload or a Picture spread it.
    """

    @classmethod
    def uploaded(cls, image_id: UUID, upload: Upload, original_key: str) -> Image:
        """A new image, as uploaded; its original bytes are stored at `original_key`."""
        return cls(id=image_id, **upload.flat(), original_key=original_key)

    @event("ImageUploaded")
    def __init__(
        self,
        *,
        id: UUID,  # the library hands the aggregate id over by this name
        file_name: str,
        content_type: str,
        size: int,
        width: int,
        height: int,
        original_key: str,
    ) -> None:
        picture = Picture(content_type=content_type, size=size, width=width, height=height)
        self.upload = Upload(file_name=file_name, picture=picture)
        self.original_key = original_key
        self.status = ImageStatus.UPLOADED
        self.spec: str | None = None
        self.request_no = 0
        self.result_key: str | None = None
        self.error: str | None = None

    def request_processing(self, spec: str) -> None:
        """Ask for the image to be processed with a canonical spec."""
        self._check_not_deleted()
        if self.status is ImageStatus.PROCESSING:
            raise AlreadyProcessing(self.id)
        self._processing_requested(request_no=self.request_no + 1, spec=spec)

    @event("ProcessingRequested")
    def _processing_requested(self, request_no: int, spec: str) -> None:
        self.request_no = request_no
        self.spec = spec
        self.status = ImageStatus.PROCESSING
        self.error = None

    def awaits(self, request_no: int) -> bool:
        """Whether request_no is the one in flight (and so still wants an answer)."""
        return self.status is ImageStatus.PROCESSING and self.request_no == request_no

    def complete_processing(self, *, request_no: int, result_key: str, result: Picture) -> bool:
        """Record the result; False (and nothing recorded) for a stale or repeated answer."""
        if not self.awaits(request_no):
            return False
        self._processing_completed(request_no=request_no, result_key=result_key, **result.flat())
        return True

    @event("ProcessingCompleted")
    def _processing_completed(
        self,
        request_no: int,
        result_key: str,
        content_type: str,
        size: int,
        width: int,
        height: int,
    ) -> None:
        self.status = ImageStatus.PROCESSED
        self.result_key = result_key

    def fail_processing(self, *, request_no: int, reason: str) -> bool:
        """Record the failure; False (and nothing recorded) for a stale or repeated answer."""
        if not self.awaits(request_no):
            return False
        self._processing_failed(request_no=request_no, reason=reason)
        return True

    @event("ProcessingFailed")
    def _processing_failed(self, request_no: int, reason: str) -> None:
        self.status = ImageStatus.FAILED
        self.error = reason

    def delete(self) -> None:
        self._check_not_deleted()
        self._deleted()

    @event("ImageDeleted")
    def _deleted(self) -> None:
        self.status = ImageStatus.DELETED

    def _check_not_deleted(self) -> None:
        if self.status is ImageStatus.DELETED:
            raise ImageAlreadyDeleted(self.id)
