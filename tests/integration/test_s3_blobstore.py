"""The S3 blob store against a real S3-compatible HTTP server."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from infra.blobs import CHUNK_SIZE
from infra.errors import BlobNotFound, DependencyUnavailable
from infra.s3 import S3BlobStore
from tests.servers import closed_port, moto_server

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


def make_store(
    endpoint: str, bucket: str, *, create_bucket: bool = True, region: str = "us-east-1"
) -> S3BlobStore:
    return S3BlobStore(
        endpoint_url=endpoint,
        access_key="test",
        secret_key="test-secret",
        bucket=bucket,
        region=region,
        create_bucket=create_bucket,
    )


def fresh_bucket() -> str:
    return f"images-{uuid.uuid4().hex[:12]}"


@pytest_asyncio.fixture
async def store(s3_endpoint: str) -> AsyncIterator[S3BlobStore]:
    async with make_store(s3_endpoint, fresh_bucket()) as opened:
        yield opened


async def test_an_object_put_is_read_back_with_its_size(store: S3BlobStore) -> None:
    await store.put("originals/a", b"\x89PNG-bytes", "image/png")

    assert await store.get("originals/a") == b"\x89PNG-bytes"
    assert await store.size("originals/a") == len(b"\x89PNG-bytes")
    assert await store.exists("originals/a")


async def test_a_large_object_streams_in_bounded_chunks(store: S3BlobStore) -> None:
    data = bytes(range(256)) * (CHUNK_SIZE * 3 // 256) + b"tail"
    await store.put("results/big", data, "application/octet-stream")

    chunks = [chunk async for chunk in store.stream("results/big")]

    assert len(chunks) > 1
    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE
    assert b"".join(chunks) == data


async def test_a_reader_may_stop_streaming_early(store: S3BlobStore) -> None:
    await store.put("results/big", b"x" * (CHUNK_SIZE * 2), "application/octet-stream")

    stream = store.stream("results/big")
    first = await anext(stream)
    await stream.aclose()

    assert len(first) <= CHUNK_SIZE
    assert await store.get("results/big") == b"x" * (CHUNK_SIZE * 2)


async def test_a_missing_key_is_reported_as_not_found(store: S3BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.get("originals/missing")
    with pytest.raises(BlobNotFound):
        await store.size("originals/missing")
    with pytest.raises(BlobNotFound):
        await anext(store.stream("originals/missing"))
    assert not await store.exists("originals/missing")


async def test_a_deleted_object_is_gone_and_deleting_again_is_harmless(
    store: S3BlobStore,
) -> None:
    await store.put("originals/a", b"a", "image/png")

    await store.delete("originals/a")
    await store.delete("originals/a")

    assert not await store.exists("originals/a")


async def test_deleting_a_prefix_removes_only_the_objects_under_it(store: S3BlobStore) -> None:
    for key in ("images/1/original", "images/1/result-a", "images/1/result-b", "images/10/x"):
        await store.put(key, b"data", "image/png")

    assert await store.delete_prefix("images/1/") == 3
    assert await store.delete_prefix("images/1/") == 0

    assert not await store.exists("images/1/original")
    assert await store.exists("images/10/x")


async def test_the_bucket_is_created_once_whatever_the_region(s3_endpoint: str) -> None:
    bucket = fresh_bucket()
    async with make_store(s3_endpoint, bucket, region="eu-west-1") as store:
        await store.check()
    async with make_store(s3_endpoint, bucket, region="eu-west-1") as again:
        await again.check()


async def test_a_missing_bucket_fails_the_health_check(s3_endpoint: str) -> None:
    async with make_store(s3_endpoint, fresh_bucket(), create_bucket=False) as store:
        with pytest.raises(DependencyUnavailable):
            await store.check()


async def test_an_unreachable_store_is_reported_quickly() -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    async with make_store(endpoint, "images", create_bucket=False) as store:
        started = time.monotonic()
        with pytest.raises(DependencyUnavailable):
            await store.check()
        with pytest.raises(DependencyUnavailable):
            await store.put("originals/a", b"a", "image/png")
        with pytest.raises(DependencyUnavailable):
            await anext(store.stream("originals/a"))
        assert time.monotonic() - started < 10


async def test_starting_against_an_unreachable_store_that_must_create_its_bucket_fails() -> None:
    store = make_store(f"http://127.0.0.1:{closed_port()}", "images", create_bucket=True)
    with pytest.raises(DependencyUnavailable):
        await store.start()
    await store.close()
