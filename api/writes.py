"""The write side of the API: validate everything first, then record.

A bad request is refused before anything is written. An upload is received into a
spool (api/uploads.py), probed from its header, then its original is stored and
recorded; if recording fails the original is removed again, so a failed dependency
leaves nothing behind.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID, uuid4

from litestar import Request

from api.deps import ApiServices, in_thread
from api.schemas import Accepted
from api.uploads import received_upload
from commands.application import version_after_upload
from commands.errors import EventStoreUnavailable
from commands.messages import DeleteImage, RequestProcessing, UploadImage
from domain.errors import EmptyImage, ImageNotFound
from domain.facts import Picture, Upload
from domain.keys import original_key
from domain.spec import parse_spec
from domain.status import ImageStatus
from infra import metrics
from infra.errors import DependencyUnavailable

log = logging.getLogger(__name__)

DEFAULT_FILE_NAME = "image"
MAX_FILE_NAME = 255


async def accept_upload(services: ApiServices, request: Request[Any, Any, Any]) -> Accepted:
    async with received_upload(
        request,
        max_file_bytes=services.max_upload_bytes,
        memory_bytes=services.spool_bytes,
        directory=services.spool_dir,
    ) as upload:
        if not upload.image.size:
            raise EmptyImage()
        file = await upload.image.file()
        info = await in_thread(services.probe, file, max_pixels=services.max_pixels)
        spec = canonical_spec(upload.processing)

        image_id = uuid4()
        key = original_key(image_id)
        await services.blobs.put_file(key, file, info.content_type)
    picture = Picture(
        content_type=info.content_type, size=upload.image.size, width=info.width, height=info.height
    )
    command = UploadImage(
        image_id=image_id,
        upload=Upload(file_name=sanitise_file_name(upload.file_name), picture=picture),
        original_key=key,
        spec=spec,
    )
    # On failure the original goes again, unless the upload was recorded after all. Not
    # on cancellation: the worker thread is never abandoned, so a cancelled request has
    # still recorded its upload, and the original must stay.
    try:
        await in_thread(services.commands.upload, command)
    except (EventStoreUnavailable, DependencyUnavailable):
        # The store could not be reached, so nothing was recorded (but for a reply lost
        # after the commit): asking it again would only add its timeout to the 503.
        await _discard(services, key)
        raise
    except Exception:
        if not await _recorded(services, image_id):
            await _discard(services, key)
        raise
    metrics.images_uploaded.inc()
    status = ImageStatus.UPLOADED if spec is None else ImageStatus.PROCESSING
    return Accepted(id=image_id, status=status, version=version_after_upload(command))


async def request_processing(services: ApiServices, image_id: UUID, spec_text: str) -> Accepted:
    command = RequestProcessing(image_id=image_id, spec=parse_spec(spec_text).canonical)
    version = await in_thread(services.commands.request_processing, command)
    return Accepted(id=image_id, status=ImageStatus.PROCESSING, version=version)


async def delete_image(services: ApiServices, image_id: UUID) -> int:
    """The image's version once deleted."""
    version = await in_thread(services.commands.delete, DeleteImage(image_id=image_id))
    return version


async def _recorded(services: ApiServices, image_id: UUID) -> bool:
    """Whether a failed upload was recorded after all. When the event store cannot say,
    assume it was: a stray original costs less than an image without its bytes."""
    try:
        await in_thread(services.commands.image, image_id)
    except ImageNotFound:
        return False
    except Exception:
        return True
    return True


def canonical_spec(text: str | None) -> str | None:
    """The canonical form of an optional spec; a blank form field means no processing."""
    if text is None or not text.strip():
        return None
    return parse_spec(text).canonical


def sanitise_file_name(raw: str | None) -> str:
    """The last path component, printable characters only, at most 255 of them."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip()
    if name in ("", ".", ".."):
        return DEFAULT_FILE_NAME
    return name[:MAX_FILE_NAME]


async def _discard(services: ApiServices, key: str) -> None:
    try:
        await services.blobs.delete(key)
    except Exception:
        # The upload was never recorded, so nothing refers to this blob; it is only litter.
        log.warning("could not remove the unrecorded original %s", key, exc_info=True)
