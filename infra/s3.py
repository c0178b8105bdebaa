"""The blob store on S3 (MinIO in compose), through aioboto3.

Construction only records settings; the HTTP client opens in `start()` and
closes in `close()`, or opens and closes around `async with store:`.

Timeouts are short and retries few, so a store that is down answers
`DependencyUnavailable` within seconds instead of stalling requests.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterator
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, BinaryIO

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from infra.blobs import CHUNK_SIZE
from infra.errors import BlobNotFound, DependencyUnavailable

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_BUCKET_MISSING_CODES = frozenset({"NoSuchBucket", "404", "NotFound"})
_DELETE_BATCH = 1000  # the most keys S3 deletes in one request


@contextlib.contextmanager
def _translated(key: str | None = None) -> Iterator[None]:
    """Turn driver errors into ours: a missing key, or an unusable store."""
    try:
        yield
    except ClientError as e:
        code = _error_code(e)
        if key is not None and code in _NOT_FOUND_CODES:
            raise BlobNotFound(key) from e
        raise DependencyUnavailable("s3", f"{code}: {e}") from e
    except BotoCoreError as e:  # cannot connect, timed out, connection dropped mid-body
        raise DependencyUnavailable("s3", str(e)) from e


class S3BlobStore:
    """BlobStore on one S3 bucket."""

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        access_key: str | None,  # None for both: the AWS credential chain (roles, profiles)
        secret_key: str | None,
        bucket: str,
        region: str = "us-east-1",
        create_bucket: bool = False,
    ) -> None:
        self.bucket = bucket
        self._endpoint_url = endpoint_url
        self._region = region
        self._create_bucket = create_bucket
        self._session = aioboto3.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        self._config = AioConfig(
            connect_timeout=2.0,
            read_timeout=30.0,
            retries={"max_attempts": 2, "mode": "standard"},
            # Path-style addressing and on-demand checksums keep MinIO and other
            # S3-compatible servers happy.
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._exit_stack: AsyncExitStack | None = None
        self._client: Any = None

    async def start(self) -> None:
        """Open the client; create the bucket first if asked to and it is missing."""
        self._exit_stack = AsyncExitStack()
        self._client = await self._exit_stack.enter_async_context(
            self._session.client("s3", endpoint_url=self._endpoint_url, config=self._config)
        )
        if self._create_bucket:
            try:
                await self.ensure_bucket()
            except BaseException:
                await self.close()
                raise

    async def close(self) -> None:
        if self._exit_stack is not None:
            await self._exit_stack.aclose()
        self._exit_stack = None
        self._client = None

    async def __aenter__(self) -> S3BlobStore:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def _s3(self) -> Any:
        if self._client is None:
            raise RuntimeError("S3BlobStore used before start()")
        return self._client

    async def ensure_bucket(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self._region != "us-east-1":  # the one region S3 refuses as an explicit constraint
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        with _translated():
            try:
                await self._s3.head_bucket(Bucket=self.bucket)
                return
            except ClientError as e:
                if _error_code(e) not in _BUCKET_MISSING_CODES:
                    raise
            try:
                await self._s3.create_bucket(**kwargs)
            except ClientError as e:
                if _error_code(e) != "BucketAlreadyOwnedByYou":  # else another process won
                    raise

    async def check(self) -> None:
        with _translated():
            await self._s3.head_bucket(Bucket=self.bucket)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        with _translated(key):
            await self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )

    async def put_file(self, key: str, file: BinaryIO, content_type: str) -> None:
        # One PutObject with the file as its body: the HTTP client sends it a block at a
        # time, reading in a worker thread, and a retry seeks back to where it started
        # (over plain HTTP botocore first reads it through, a MiB at a time, to sign its
        # hash). aioboto3's upload_fileobj would instead read the file on the event loop
        # and gather up to its multipart threshold, 8 MiB, in memory before sending.
        with _translated(key):
            await self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=file, ContentType=content_type
            )

    async def get(self, key: str) -> bytes:
        with _translated(key):
            response = await self._s3.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"]
            async with body:
                data: bytes = await body.read()
                return data

    async def stream(self, key: str) -> AsyncGenerator[bytes, None]:
        with _translated(key):
            response = await self._s3.get_object(Bucket=self.bucket, Key=key)
            # Leaving the block, even when the reader stops early, releases the connection.
            body = response["Body"]
            async with body:
                while chunk := await body.read(CHUNK_SIZE):
                    yield chunk

    async def size(self, key: str) -> int:
        with _translated(key):
            head = await self._s3.head_object(Bucket=self.bucket, Key=key)
        return int(head["ContentLength"])

    async def exists(self, key: str) -> bool:
        try:
            await self.size(key)
        except BlobNotFound:
            return False
        return True

    async def delete(self, key: str) -> None:
        with _translated():
            await self._s3.delete_object(Bucket=self.bucket, Key=key)

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise ValueError("refusing to delete every object: the prefix is empty")
        deleted = 0
        with _translated():
            paginator = self._s3.get_paginator("list_objects_v2")
            pages = paginator.paginate(
                Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": _DELETE_BATCH}
            )
            async for page in pages:
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if not keys:
                    continue
                answer = await self._s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                )
                if errors := answer.get("Errors"):
                    first = errors[0]
                    raise DependencyUnavailable(
                        "s3", f"could not delete {first.get('Key')!r}: {first.get('Code')}"
                    )
                deleted += len(keys)
        return deleted


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
