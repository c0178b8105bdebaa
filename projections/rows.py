"""The image_status read model: one row per image, as queries return it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from domain.status import ImageStatus


class ImageRow(msgspec.Struct, frozen=True, kw_only=True):
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


class Page(msgspec.Struct, frozen=True):
    items: list[ImageRow]
    next_cursor: str | None


COLUMNS: tuple[str, ...] = ImageRow.__struct_fields__
