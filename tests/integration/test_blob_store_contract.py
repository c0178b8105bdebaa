"""The BlobStore contract, held by every implementation: the filesystem store on a real
directory, the S3 store against a real S3-compatible server, and the in-memory fake the
unit tests lean on. What one store does, all of them do.

Each adapter's own file keeps only what is particular to it.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from commands.blobs import BlobStore
from infra.blobs import CHUNK_SIZE
from infra.errors import BlobNotFound
from infra.filesystem import FilesystemBlobStore
from infra.s3 import S3BlobStore
from tests.fakes import InMemoryBlobStore
from tests.servers import moto_server

STORES = ["filesystem", "s3", "memory"]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest_asyncio.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    match request.param:
        case "filesystem":
            yield FilesystemBlobStore(tmp_path / "blobs")
        case "s3":
            # Looked up here so that only the S3 runs start the server.
            endpoint: str = request.getfixturevalue("s3_endpoint")
            async with S3BlobStore(
                endpoint_url=endpoint,
                access_key="test",
                secret_key="test-secret",
                bucket=f"images-{uuid.uuid4().hex[:12]}",  # a fresh bucket: tests stay apart
                region="us-east-1",
                create_bucket=True,
            ) as opened:
                yield opened
        case "memory":
            yield InMemoryBlobStore()
        case other:
            raise ValueError(f"no blob store called {other!r}")


async def test_a_blob_put_is_read_back_with_its_size(store: BlobStore) -> None:
    await store.put("originals/a", b"\x89PNG-bytes", "image/png")

    assert await store.get("originals/a") == b"\x89PNG-bytes"
    assert await store.size("originals/a") == len(b"\x89PNG-bytes")
    assert await store.exists("originals/a")


async def test_a_file_put_stores_it_from_its_position_to_its_end(store: BlobStore) -> None:
    file = io.BytesIO(b"framing|\x89PNG-bytes")
    file.seek(len(b"framing|"))

    await store.put_file("originals/a", file, "image/png")

    assert await store.get("originals/a") == b"\x89PNG-bytes"
    assert await store.size("originals/a") == len(b"\x89PNG-bytes")
    assert not file.closed, "the file stays the caller's to close"


async def test_a_large_file_on_disk_is_stored_whole_over_an_older_blob(store: BlobStore) -> None:
    data = bytes(range(256)) * (CHUNK_SIZE * 3 // 256) + b"tail"
    await store.put("originals/a", b"older", "image/png")

    with tempfile.TemporaryFile() as file:
        file.write(data)
        file.seek(0)
        await store.put_file("originals/a", file, "image/png")

    assert await store.get("originals/a") == data


async def test_a_stored_file_outlives_the_file_it_came_from(
    store: BlobStore, tmp_path: Path
) -> None:
    # As an upload's spool does: a named file, put, then closed and removed.
    spooled = tmp_path / "upload.part"
    with spooled.open("w+b") as file:
        file.write(b"spooled bytes")
        file.seek(0)
        await store.put_file("originals/a", file, "image/png")
    spooled.unlink()

    assert await store.get("originals/a") == b"spooled bytes"


async def test_a_large_blob_streams_in_bounded_chunks(store: BlobStore) -> None:
    data = bytes(range(256)) * (CHUNK_SIZE * 3 // 256) + b"tail"
    await store.put("results/big", data, "application/octet-stream")

    chunks = [chunk async for chunk in store.stream("results/big")]

    assert len(chunks) > 1
    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE
    assert b"".join(chunks) == data


async def test_a_reader_may_stop_streaming_early(store: BlobStore) -> None:
    await store.put("results/big", b"x" * (CHUNK_SIZE * 2), "application/octet-stream")

    stream = store.stream("results/big")
    first = await anext(stream)
    await stream.aclose()

    assert len(first) <= CHUNK_SIZE
    assert await store.get("results/big") == b"x" * (CHUNK_SIZE * 2)


async def test_a_missing_key_is_reported_as_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.get("originals/missing")
    with pytest.raises(BlobNotFound):
        await store.size("originals/missing")
    with pytest.raises(BlobNotFound):
        await anext(store.stream("originals/missing"))
    assert not await store.exists("originals/missing")


async def test_a_deleted_blob_is_gone_and_deleting_again_is_harmless(store: BlobStore) -> None:
    await store.put("originals/a", b"a", "image/png")

    await store.delete("originals/a")
    await store.delete("originals/a")

    assert not await store.exists("originals/a")


async def test_deleting_a_prefix_removes_only_the_blobs_under_it(store: BlobStore) -> None:
    swept = ["images/1/original", "images/1/r/a", "images/1/r/b"]
    for key in [*swept, "images/10/x"]:
        await store.put(key, b"data", "image/png")

    assert await store.delete_prefix("images/1/") == 3
    assert await store.delete_prefix("images/1/") == 0

    for key in swept:
        assert not await store.exists(key)
    assert await store.exists("images/10/x")
