from __future__ import annotations

from enum import StrEnum


class ImageStatus(StrEnum):
    """Where an image is in its lifecycle.

    uploaded → processing → processed | failed; any → deleted (terminal).
    A processed or failed image may be processed again with a new spec.
    """

    UPLOADED = "uploaded"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"
    DELETED = "deleted"
