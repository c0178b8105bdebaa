"""Finding an image for a read, and streaming its bytes with cache validators."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any, NamedTuple
from uuid import UUID

from litestar import Request, Response
from litestar.response import Stream
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from api.deps import ApiServices, in_thread
from api.problems import NotProcessed
from domain.errors import ImageNotFound
from domain.events import EventEnvelope
from domain.status import ImageStatus
from infra.errors import BlobNotFound
from projections.projector import replay
from projections.rows import ImageRow

# A result's URL serves new bytes after re-processing, so caches must revalidate;
# an original never changes under its URL.
REVALIDATE = "public, no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


class Blob(NamedTuple):
    key: str
    content_type: str
    size: int
    cache_control: str


def parse_image_id(text: str) -> UUID:
    """Ids are UUIDs in their canonical lower-case form; anything else names no image (one
    image, one URL: braces, URNs or missing dashes would make aliases for caches)."""
    try:
        image_id = UUID(text)
    except ValueError:
        raise ImageNotFound(text[:64]) from None
    if str(image_id) != text:
        raise ImageNotFound(text[:64])
    return image_id


async def find_image(
    services: ApiServices, image_id: UUID, min_version: int | None = None
) -> ImageRow:
    """The image's row; deleted and unknown images are not found.

    Without `min_version`, the row as the projection has it: one query. With it (the
    version a command answered with), read-your-writes: the row once the projection has
    reached that version, waiting for it a bounded time, and after that the row brought
    up to date from the event store's history of the image.
    """
    if min_version is None:
        row = await services.queries.get(image_id)
    else:
        row = await _at_least(services, image_id, min_version)
    if row is None or row.status is ImageStatus.DELETED:
        raise ImageNotFound(image_id)
    return row


async def _at_least(services: ApiServices, image_id: UUID, version: int) -> ImageRow | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + services.read_your_writes_wait
    while True:
        projected = services.projected.next_beat()  # taken before the read: none is missed
        row = await services.queries.get(image_id)
        if row is not None and row.version >= version:
            return row
        left = deadline - loop.time()
        if left <= 0:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(projected.wait(), min(left, services.read_your_writes_poll))
    # The projection is behind (or stopped): the event store has every event.
    newer = await in_thread(services.log.history, image_id, row.version if row else 0)
    return replay(newer, row)


def original_blob(row: ImageRow) -> Blob:
    return Blob(row.original_key, row.content_type, row.size, IMMUTABLE)


def served_blob(row: ImageRow) -> Blob:
    """What GET /images/{id} serves: the result, or the original when none was asked for."""
    if row.status is ImageStatus.UPLOADED:
        # Under this URL until a result replaces it, so unlike at its own URL: revalidate.
        return original_blob(row)._replace(cache_control=REVALIDATE)
    if (
        row.status is ImageStatus.PROCESSED
        and row.result_key is not None
        and row.result_content_type is not None
        and row.result_size is not None
    ):
        return Blob(row.result_key, row.result_content_type, row.result_size, REVALIDATE)
    raise NotProcessed(row.id, row.status, row.error)


def etag_for(key: str) -> str:
    """Strong: a key's bytes never change (result keys are derived from the spec)."""
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    # If-None-Match compares weakly: a W/ prefix does not prevent a match.
    tags = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return any(tag in ("*", etag) for tag in tags)


async def blob_response(
    request: Request[Any, Any, Any],
    services: ApiServices,
    image_id: str,
    choose: Callable[[ImageRow], Blob],
    min_version: int | None = None,
    *,
    body: bool = True,
) -> Response[Any]:
    """The image's blob that `choose` picks (served_blob or original_blob), with its
    validators; a 304 when the client's copy is current. Without the body (HEAD) the store
    is asked whether the bytes are there (so the status is GET's), never for the bytes."""
    blob = choose(await find_image(services, parse_image_id(image_id), min_version))
    validators = {"ETag": etag_for(blob.key), "Cache-Control": blob.cache_control}
    if _matches(request.headers.get("if-none-match"), validators["ETag"]):
        return Response(content=b"", status_code=HTTP_304_NOT_MODIFIED, headers=validators)
    headers = {**validators, "Content-Length": str(blob.size)}
    if not body:
        if not await services.blobs.exists(blob.key):
            raise BlobNotFound(blob.key)
        return Response(content=b"", media_type=blob.content_type, headers=headers)
    chunks = services.blobs.stream(blob.key)
    # Pull the first chunk now: a missing blob or an unreachable store then becomes a
    # proper error response instead of a stream that breaks after its headers.
    first = await anext(chunks, b"")
    return Stream(_chain(first, chunks), media_type=blob.content_type, headers=headers)


async def _chain(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()


async def image_events(services: ApiServices, image_id: UUID) -> Sequence[EventEnvelope]:
    """Every event of the image, deleted ones included: the history is the audit trail."""
    history = await in_thread(services.log.history, image_id)
    if not history:
        raise ImageNotFound(image_id)
    return history
