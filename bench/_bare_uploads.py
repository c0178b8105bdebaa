"""The baseline of the uploads bench: a bare Litestar app whose one handler receives a
multipart upload and writes the file to disk, and nothing else.

    python -m uvicorn --factory bench._bare_uploads:create_app --port N

BENCH_BARE_DIR names the folder the files go to, one per upload.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Annotated

import anyio
import msgspec
from litestar import Litestar, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

PREFIX = "/api/v1/images"
MAX_BODY = 20 * 1024 * 1024 + 64 * 1024  # the service's upload limit and form overhead


class Upload(msgspec.Struct):
    image: UploadFile
    processing: str | None = None


class Accepted(msgspec.Struct):
    id: uuid.UUID
    status: str


def create_app() -> Litestar:
    folder = Path(os.environ["BENCH_BARE_DIR"])

    @post(PREFIX, status_code=202)
    async def upload(
        data: Annotated[Upload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Accepted:
        image = uuid.uuid4()
        content = await data.image.read()
        await anyio.Path(folder / str(image)).write_bytes(content)
        return Accepted(image, "uploaded")

    return Litestar([upload], request_max_body_size=MAX_BODY)
