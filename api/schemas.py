"""Request and response bodies of the HTTP API, separate from commands and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)

from domain.events import EventEnvelope
from domain.facts import Picture
from domain.status import ImageStatus
from projections.rows import ImageRow

API_PREFIX = "/api/v1/images"


UPLOAD_FORM = Schema(
    title="ImageUpload",
    description="A multipart upload: the image file and, optionally, a processing spec.",
    type=OpenAPIType.OBJECT,
    required=["image"],
    properties={
        "image": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.BINARY,
            content_media_type="application/octet-stream",
            description="The image; its type is read from its bytes, not from the part",
        ),
        "processing": Schema(
            type=OpenAPIType.STRING,
            description="A processing spec such as `resize:100x100`; blank means none",
        ),
    },
)


@dataclass
class UploadOperation(Operation):
    """The upload operation with its form described: the handler reads the body as a
    stream (api/uploads.py), so Litestar has no `data` parameter to describe it from."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={"multipart/form-data": OpenAPIMediaType(schema=UPLOAD_FORM)}, required=True
        )


class ProcessRequest(msgspec.Struct):
    """Process an image (again) with a spec such as `resize:100x100|grayscale`."""

    processing: str


# The response header that carries the image's version after a command, and the request
# header (or query parameter) a read carries it back in.
VERSION_HEADER = "Image-Version"
MIN_VERSION_HEADER = "Min-Image-Version"
MIN_VERSION_PARAMETER = "min_version"


class Accepted(msgspec.Struct):
    id: UUID
    status: ImageStatus
    version: int  # the image's version once the command was recorded


class Deleted(msgspec.Struct):
    message: str
    version: int  # the image's version once the deletion was recorded


class ImageLinks(msgspec.Struct):
    self_: str = msgspec.field(name="self")
    image: str
    original: str
    process: str
    events: str


class ImageStatusBody(msgspec.Struct):
    id: UUID
    status: ImageStatus
    file_name: str
    content_type: str
    size: int
    width: int
    height: int
    spec: str | None
    error: str | None
    result: Picture | None
    created_at: datetime
    updated_at: datetime
    links: ImageLinks


class ImagePage(msgspec.Struct):
    items: list[ImageStatusBody]
    next_cursor: str | None


class EventBody(msgspec.Struct):
    type: str
    image_id: UUID
    version: int
    position: int
    occurred_at: datetime
    data: dict[str, Any]


class ImageEvents(msgspec.Struct):
    id: UUID
    events: list[EventBody]


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, str]


def image_path(image_id: UUID) -> str:
    return f"{API_PREFIX}/{image_id}"


def status_body(row: ImageRow) -> ImageStatusBody:
    return ImageStatusBody(
        id=row.id,
        status=row.status,
        **row.upload.flat(),
        spec=row.spec,
        error=row.error,
        # A re-processed image keeps its previous result until the new one lands; that
        # result belongs to the previous spec, so it is only shown once processed again.
        result=row.result if row.status is ImageStatus.PROCESSED else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        links=_links(row.id),
    )


def event_body(event: EventEnvelope) -> EventBody:
    """The envelope as the event stream carries it, its data as plain JSON values."""
    envelope = msgspec.structs.asdict(event)
    return EventBody(**{**envelope, "data": msgspec.to_builtins(event.data)})


def _links(image_id: UUID) -> ImageLinks:
    base = image_path(image_id)
    return ImageLinks(
        self_=f"{base}/status",
        image=base,
        original=f"{base}/original",
        process=f"{base}/process",
        events=f"{base}/events",
    )
