"""The image_status read model: one row per image, as queries return it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from domain.facts import Picture, Upload
from domain.status import ImageStatus


class ImageRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The fields are the table's columns, in order; the image facts are flat here too."""

    id: UUID
    status: ImageStatus
    file_name: str
    content_type: str
    size: int
    width: int
    height: int
    original_key: str
    spec: str | None = None
    request_no: int = 0
    result_key: str | None = None
    result_content_type: str | None = None
    result_size: int | None = None
    result_width: int | None = None
    result_height: int | None = None
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    created_position: int  # log position of the upload: a stable order for paging
    version: int  # last aggregate version applied

    @property
    def upload(self) -> Upload:
        return Upload.from_flat(self)

    @property
    def result(self) -> Picture | None:
        """The latest result, kept while the image is processed again; None before one."""
        if self.result_key is None:
            return None
        return Picture.from_flat(self, prefix="result_")


class Page(msgspec.Struct, frozen=True):
    items: list[ImageRow]
    next_cursor: str | None


COLUMNS: tuple[str, ...] = ImageRow.__struct_fields__
