"""The /api/v1/images resource. Handlers translate HTTP to the read and write sides."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, head, post
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import (
    FromQuery,
    HeaderParameter,
    JSONBody,
    PathParameter,
    QueryParameter,
)
from litestar.status_codes import HTTP_202_ACCEPTED

from api import reads, writes
from api.deps import Services
from api.problems import problem_responses
from api.schemas import (
    API_PREFIX,
    MIN_VERSION_HEADER,
    MIN_VERSION_PARAMETER,
    VERSION_HEADER,
    Accepted,
    Deleted,
    ImageEvents,
    ImagePage,
    ImageStatusBody,
    ProcessRequest,
    UploadOperation,
    event_body,
    image_path,
    status_body,
)
from domain.status import ImageStatus

INVALID = {400: "The request does not validate; `errors` says where"}
NOT_FOUND = {404: "No image with this id, or it was deleted"}
UNAVAILABLE = {503: "A dependency is down; nothing was changed"}

ImageId = Annotated[str, PathParameter(description="The image's UUID")]

READ_YOUR_WRITES = (
    "Read your own writes: the `version` (or `Image-Version` header) a command answered "
    "with. The read then reflects at least that version, waiting briefly for the read "
    "model to reach it, so right after a DELETE it is 404. Without it the read answers "
    "at once from the read model, which may lag a command by a moment."
)
MinVersion = Annotated[
    int | None, QueryParameter(name=MIN_VERSION_PARAMETER, ge=1, description=READ_YOUR_WRITES)
]
MinVersionHeader = Annotated[
    int | None,
    HeaderParameter(
        name=MIN_VERSION_HEADER,
        ge=1,
        description=f"The same as the `{MIN_VERSION_PARAMETER}` parameter, as a header.",
    ),
]
VERSION_RESPONSE_HEADER = ResponseHeader(
    name=VERSION_HEADER,
    documentation_only=True,  # set by the handler, per response
    description=(
        "The image's version once the command was recorded (also `version` in the body). "
        f"Send it back as `?{MIN_VERSION_PARAMETER}=` or `{MIN_VERSION_HEADER}` to read "
        "this write."
    ),
)


def wanted(query: int | None, header: int | None) -> int | None:
    """The version a read asks for, by parameter or header (the higher if both)."""
    if query is None or header is None:
        return query if header is None else header
    return max(query, header)


def accepted_response(accepted: Accepted, location: str) -> Response[Accepted]:
    headers = {"Location": location, VERSION_HEADER: str(accepted.version)}
    return Response(accepted, status_code=202, headers=headers)


def problems(described: dict[int, str]) -> dict[int, ResponseSpec]:
    """Every route may meet a request that does not validate or a dependency that is down."""
    return problem_responses({**INVALID, **described, **UNAVAILABLE})


def image_bytes(description: str) -> ResponseSpec:
    # Documents the 200 only: the actual media type is the stored image's own.
    return ResponseSpec(
        data_container=bytes,
        media_type="image/*",
        description=description,
        generate_examples=False,
    )


class ImageController(Controller):
    path = API_PREFIX
    tags = ["images"]

    @post(
        "/",
        operation_id="uploadImage",
        operation_class=UploadOperation,
        status_code=HTTP_202_ACCEPTED,
        response_headers=[VERSION_RESPONSE_HEADER],
        responses=problems(
            {
                400: "Empty file, or a processing spec that does not parse (names the token)",
                413: "The file is larger than the upload limit",
                415: "The file is not an image of a supported type",
                422: "The image is corrupt or has too many pixels",
            }
        ),
    )
    async def upload(
        self, request: Request[Any, Any, Any], services: Services
    ) -> Response[Accepted]:
        """Upload an image (multipart field `image`), optionally with a processing spec
        such as `resize:100x100` (field `processing`).

        The bytes are checked before anything is stored. The id is returned at once;
        processing continues in the background (see the status resource).
        """
        accepted = await writes.accept_upload(services, request)
        return accepted_response(accepted, image_path(accepted.id))

    @get(
        "/",
        operation_id="listImages",
        responses=problems({400: "Bad status, limit or cursor"}),
    )
    async def list_images(
        self,
        services: Services,
        status: FromQuery[ImageStatus | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: FromQuery[str | None] = None,
    ) -> ImagePage:
        """List images, newest first; deleted images only when `status=deleted` asks for them.

        Answered from the read model, which may lag the latest commands by a moment.
        """
        page = await services.queries.list(status=status, limit=limit, cursor=cursor)
        return ImagePage([status_body(row) for row in page.items], page.next_cursor)

    @get(
        "/{image_id:str}",
        operation_id="getImage",
        responses={
            200: image_bytes("The processed image (the original when no processing was asked for)"),
            **problems(
                {**NOT_FOUND, 409: "Not processed (yet): the image's status is in the problem"}
            ),
        },
    )
    async def get_image(
        self,
        request: Request[Any, Any, Any],
        services: Services,
        image_id: ImageId,
        min_version: MinVersion = None,
        min_version_header: MinVersionHeader = None,
    ) -> Response[Any]:
        """The processed image's bytes; revalidate (If-None-Match), re-processing changes them."""
        version = wanted(min_version, min_version_header)
        return await reads.blob_response(request, services, image_id, reads.served_blob, version)

    @get(
        "/{image_id:str}/original",
        operation_id="getOriginal",
        responses={200: image_bytes("The uploaded bytes, unchanged"), **problems(NOT_FOUND)},
    )
    async def get_original(
        self,
        request: Request[Any, Any, Any],
        services: Services,
        image_id: ImageId,
        min_version: MinVersion = None,
        min_version_header: MinVersionHeader = None,
    ) -> Response[Any]:
        """The original upload. It never changes, so it may be cached for good."""
        version = wanted(min_version, min_version_header)
        return await reads.blob_response(request, services, image_id, reads.original_blob, version)

    @head(
        "/{image_id:str}",
        operation_id="headImage",
        responses=problems({**NOT_FOUND, 409: "Not processed (yet)"}),
    )
    async def head_image(
        self,
        request: Request[Any, Any, Any],
        services: Services,
        image_id: ImageId,
        min_version: MinVersion = None,
        min_version_header: MinVersionHeader = None,
    ) -> Response[None]:
        """What GET would answer (status, ETag, type and length) without the bytes."""
        version = wanted(min_version, min_version_header)
        return await reads.blob_response(
            request, services, image_id, reads.served_blob, version, body=False
        )

    @head(
        "/{image_id:str}/original",
        operation_id="headOriginal",
        responses=problems(NOT_FOUND),
    )
    async def head_original(
        self,
        request: Request[Any, Any, Any],
        services: Services,
        image_id: ImageId,
        min_version: MinVersion = None,
        min_version_header: MinVersionHeader = None,
    ) -> Response[None]:
        """What GET of the original would answer, without the bytes."""
        version = wanted(min_version, min_version_header)
        return await reads.blob_response(
            request, services, image_id, reads.original_blob, version, body=False
        )

    @get(
        "/{image_id:str}/status",
        operation_id="getImageStatus",
        responses=problems(NOT_FOUND),
    )
    async def get_status(
        self,
        services: Services,
        image_id: ImageId,
        min_version: MinVersion = None,
        min_version_header: MinVersionHeader = None,
    ) -> ImageStatusBody:
        """Where the image is in its lifecycle, what it is, and its processed result."""
        image = reads.parse_image_id(image_id)
        version = wanted(min_version, min_version_header)
        return status_body(await reads.find_image(services, image, version))

    @post(
        "/{image_id:str}/process",
        operation_id="processImage",
        status_code=HTTP_202_ACCEPTED,
        response_headers=[VERSION_RESPONSE_HEADER],
        responses=problems(
            {
                400: "A processing spec that does not parse (names the token)",
                **NOT_FOUND,
                409: "The image was deleted, or is being processed already",
            }
        ),
    )
    async def process(
        self, services: Services, image_id: ImageId, data: JSONBody[ProcessRequest]
    ) -> Response[Accepted]:
        """Process the image (again) with a new spec; the result replaces the previous one."""
        accepted = await writes.request_processing(
            services, reads.parse_image_id(image_id), data.processing
        )
        return accepted_response(accepted, f"{image_path(accepted.id)}/status")

    @delete(
        "/{image_id:str}",
        operation_id="deleteImage",
        status_code=200,
        response_headers=[VERSION_RESPONSE_HEADER],
        responses=problems(NOT_FOUND),
    )
    async def delete_image(self, services: Services, image_id: ImageId) -> Response[Deleted]:
        """Delete the image; its bytes are removed in the background. A read that carries
        the version answered here is 404 at once."""
        version = await writes.delete_image(services, reads.parse_image_id(image_id))
        deleted = Deleted("Image deleted successfully", version)
        return Response(deleted, headers={VERSION_HEADER: str(version)})

    @get(
        "/{image_id:str}/events",
        operation_id="getImageEvents",
        responses=problems({404: "No image with this id"}),
    )
    async def get_events(self, services: Services, image_id: ImageId) -> ImageEvents:
        """The image's event history, in the envelope the event stream carries."""
        image = reads.parse_image_id(image_id)
        history = await reads.image_events(services, image)
        return ImageEvents(image, [event_body(event) for event in history])
