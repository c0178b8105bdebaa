"""The S3 blob store against a real S3-compatible HTTP server, beyond the contract every
store holds (test_blob_store_contract.py): its bucket, and a server that is not there."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from infra.errors import DependencyUnavailable
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
