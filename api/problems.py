"""Every error as an RFC 9457 problem (application/problem+json).

One table maps our exceptions to statuses; Litestar's own errors (validation, unknown
route, wrong method, body too large) and unexpected exceptions are answered in the
same shape. A 5xx never carries a driver message or a traceback: those go to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap

from commands.errors import EventStoreUnavailable
from domain import errors as domain
from domain.status import ImageStatus
from infra.errors import BlobNotFound, DependencyUnavailable
from projections.store import InvalidCursor

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:imgproc:problem:"
RETRY_AFTER_SECONDS = "5"


class ProblemBody(msgspec.Struct):
    """RFC 9457 problem details; some problems add extension members (e.g. `token`)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str


class NotProcessed(Exception):
    """The processed image was asked for while processing runs, or after it failed."""

    def __init__(self, image_id: UUID, status: ImageStatus, error: str | None) -> None:
        self.image_id = image_id
        self.status = status
        self.error = error
        super().__init__(f"image {image_id} is {status}, there is no processed image to serve")


class Kind(msgspec.Struct, frozen=True):
    status: int
    slug: str
    title: str


# Looked up along each exception's MRO, so a subclass may refine its parent's entry.
ERROR_KINDS: dict[type[Exception], Kind] = {
    domain.InvalidSpec: Kind(400, "invalid-spec", "Invalid processing spec"),
    domain.EmptyImage: Kind(400, "empty-image", "Empty upload"),
    domain.ImageTooLarge: Kind(413, "image-too-large", "Upload too large"),
    domain.UnsupportedImage: Kind(415, "unsupported-image", "Not a supported image"),
    domain.CorruptImage: Kind(422, "corrupt-image", "Corrupt image"),
    domain.TooManyPixels: Kind(422, "too-many-pixels", "Too many pixels"),
    domain.InvalidImage: Kind(422, "invalid-image", "Invalid image"),
    domain.ImageNotFound: Kind(404, "image-not-found", "Image not found"),
    domain.ImageAlreadyDeleted: Kind(409, "image-deleted", "Image deleted"),
    domain.AlreadyProcessing: Kind(409, "already-processing", "Already processing"),
    domain.InvalidTransition: Kind(409, "invalid-transition", "Not allowed in this state"),
    NotProcessed: Kind(409, "not-processed", "Image not processed"),
    InvalidCursor: Kind(400, "invalid-cursor", "Invalid cursor"),
    # Raised while a form is read: a text field that is not in its charset (UTF-8).
    UnicodeDecodeError: Kind(400, "invalid-encoding", "Invalid request encoding"),
    BlobNotFound: Kind(404, "image-bytes-missing", "Image bytes not found"),
    EventStoreUnavailable: Kind(503, "dependency-unavailable", "Service unavailable"),
    DependencyUnavailable: Kind(503, "dependency-unavailable", "Service unavailable"),
}


def problem_responses(described: dict[int, str]) -> dict[int, ResponseSpec]:
    """OpenAPI entries for a handler's error statuses, e.g. `{404: "unknown or deleted"}`."""
    return {
        status: ResponseSpec(
            data_container=ProblemBody,
            description=description,
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status, description in described.items()
    }


def kind_of(exc: Exception) -> Kind | None:
    return next((ERROR_KINDS[c] for c in type(exc).__mro__ if c in ERROR_KINDS), None)


def problem(
    request: Request[Any, Any, Any],
    *,
    status: int,
    title: str,
    detail: str,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response[dict[str, Any]]:
    instance = request.url.path
    body = ProblemBody(type=type_, title=title, status=status, detail=detail, instance=instance)
    return Response(
        content={**extensions, **msgspec.to_builtins(body)},
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _extensions(exc: Exception) -> dict[str, Any]:
    match exc:
        case domain.InvalidSpec():
            return {"token": exc.token, "reason": exc.reason}
        case domain.ImageTooLarge():
            return {"limit": exc.limit}
        case domain.TooManyPixels():
            return {"pixels": exc.pixels, "limit": exc.limit}
        case domain.ImageNotFound() | domain.InvalidTransition():
            return {"id": str(exc.image_id)}
        case NotProcessed():
            # `status` is the problem's HTTP status, so the image's own goes by another name.
            return {"id": str(exc.image_id), "image_status": str(exc.status), "error": exc.error}
        case DependencyUnavailable():
            return {"dependency": exc.dependency}
        case EventStoreUnavailable():
            return {"dependency": "event store"}
    return {}


def _detail(exc: Exception, kind: Kind) -> str:
    if kind.status >= 500:
        return "a service the request needs is unavailable; nothing was changed, try again later"
    if isinstance(exc, BlobNotFound):
        return "the image's bytes are no longer stored"
    if isinstance(exc, UnicodeDecodeError):
        return "invalid multipart/form-data: a text field is not UTF-8 (or the charset it names)"
    return str(exc)


def handle_known(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    kind = kind_of(exc)
    if kind is None:
        return handle_unexpected(request, exc)
    headers = None
    if kind.status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        headers = {"Retry-After": RETRY_AFTER_SECONDS}
    return problem(
        request,
        status=kind.status,
        title=kind.title,
        detail=_detail(exc, kind),
        type_=PROBLEM_TYPE_PREFIX + kind.slug,
        headers=headers,
        **_extensions(exc),
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem(
        request,
        status=500,
        title=HTTPStatus(500).phrase,
        detail="the server failed to handle the request; the error has been logged",
    )


def http_exception_handler(
    max_upload_bytes: int,
) -> Callable[[Request[Any, Any, Any], HTTPException], Response[dict[str, Any]]]:
    """Litestar's own errors (validation, routing, body limit) as problems."""

    def handle(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
        status = exc.status_code
        if status >= 500:
            return handle_unexpected(request, exc)
        if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
            # Refused while reading the body, before the size is known: the same problem
            # as an upload found too large afterwards.
            return handle_known(request, domain.ImageTooLarge(0, max_upload_bytes))
        extensions: dict[str, Any] = {}
        if isinstance(exc.extra, list) and exc.extra:
            extensions["errors"] = exc.extra
        return problem(
            request,
            status=status,
            title=HTTPStatus(status).phrase,
            detail=exc.detail,
            headers=exc.headers,
            **extensions,
        )

    return handle


def exception_handlers(max_upload_bytes: int) -> ExceptionHandlersMap:
    handlers: ExceptionHandlersMap = {kind: handle_known for kind in ERROR_KINDS}
    handlers[HTTPException] = http_exception_handler(max_upload_bytes)
    handlers[Exception] = handle_unexpected
    return handlers
