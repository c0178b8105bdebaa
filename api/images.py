"""The /api/v1/images resource. Handlers translate HTTP to the read and write sides."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, head, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody, MultipartBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED

from api import reads, writes
from api.deps import Services, in_thread
from api.problems import problem_responses
from api.schemas import (
    API_PREFIX,
    Accepted,
    ImageEvents,
    ImagePage,
    ImageStatusBody,
    ImageUpload,
    Message,
    ProcessRequest,
    event_body,
    image_path,
    status_body,
)
from domain.status import ImageStatus

INVALID = {400: "The request does not validate; `errors` says where"}
NOT_FOUND = {404: "No image with this id, or it was deleted"}
UNAVAILABLE = {503: "A dependency is down; nothing was changed"}

ImageId = Annotated[str, PathParameter(description="The image's UUID")]


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
        status_code=HTTP_202_ACCEPTED,
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
        self,
        services: Services,
        data: MultipartBody[ImageUpload],
    ) -> Response[Accepted]:
        """Upload an image, optionally with a processing spec such as `resize:100x100`.

        The bytes are checked before anything is stored. The id is returned at once;
        processing continues in the background (see the status resource).
        """
        accepted = await writes.accept_upload(services, data)
        return Response(accepted, status_code=202, headers={"Location": image_path(accepted.id)})

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
        """List images, newest first; deleted images only when `status=deleted` asks for them."""
        page = await in_thread(services.read_model.list, status=status, limit=limit, cursor=cursor)
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
        self, request: Request[Any, Any, Any], services: Services, image_id: ImageId
    ) -> Response[Any]:
        """The processed image's bytes; revalidate (If-None-Match), re-processing changes them."""
        return await reads.blob_response(request, services, image_id, reads.served_blob)

    @get(
        "/{image_id:str}/original",
        operation_id="getOriginal",
        responses={200: image_bytes("The uploaded bytes, unchanged"), **problems(NOT_FOUND)},
    )
    async def get_original(
        self, request: Request[Any, Any, Any], services: Services, image_id: ImageId
    ) -> Response[Any]:
        """The original upload. It never changes, so it may be cached for good."""
        return await reads.blob_response(request, services, image_id, reads.original_blob)

    @head(
        "/{image_id:str}",
        operation_id="headImage",
        responses=problems({**NOT_FOUND, 409: "Not processed (yet)"}),
    )
    async def head_image(
        self, request: Request[Any, Any, Any], services: Services, image_id: ImageId
    ) -> Response[None]:
        """What GET would answer (status, ETag, type and length) without the bytes."""
        return await reads.blob_response(request, services, image_id, reads.served_blob, body=False)

    @head(
        "/{image_id:str}/original",
        operation_id="headOriginal",
        responses=problems(NOT_FOUND),
    )
    async def head_original(
        self, request: Request[Any, Any, Any], services: Services, image_id: ImageId
    ) -> Response[None]:
        """What GET of the original would answer, without the bytes."""
        return await reads.blob_response(
            request, services, image_id, reads.original_blob, body=False
        )

    @get(
        "/{image_id:str}/status",
        operation_id="getImageStatus",
        responses=problems(NOT_FOUND),
    )
    async def get_status(self, services: Services, image_id: ImageId) -> ImageStatusBody:
        """Where the image is in its lifecycle, what it is, and its processed result."""
        return status_body(await reads.find_image(services, reads.parse_image_id(image_id)))

    @post(
        "/{image_id:str}/process",
        operation_id="processImage",
        status_code=HTTP_202_ACCEPTED,
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
        location = f"{image_path(accepted.id)}/status"
        return Response(accepted, status_code=202, headers={"Location": location})

    @delete(
        "/{image_id:str}",
        operation_id="deleteImage",
        status_code=200,
        responses=problems(NOT_FOUND),
    )
    async def delete_image(self, services: Services, image_id: ImageId) -> Message:
        """Delete the image; its bytes are removed in the background."""
        await writes.delete_image(services, reads.parse_image_id(image_id))
        return Message("Image deleted successfully")

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
