"""The filesystem blob store on a real directory: atomic writes, streaming, sweeps, and
a broken directory reported as unavailable rather than as a crash or a success."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest

from infra.blobs import CHUNK_SIZE
from infra.errors import BlobNotFound, DependencyUnavailable
from infra.filesystem import FilesystemBlobStore


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def store(root: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(root)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_a_blob_put_is_read_back_with_its_size(store: FilesystemBlobStore) -> None:
    await store.put("originals/a", b"\x89PNG-bytes", "image/png")

    assert await store.get("originals/a") == b"\x89PNG-bytes"
    assert await store.size("originals/a") == len(b"\x89PNG-bytes")
    assert await store.exists("originals/a")


async def test_a_write_leaves_only_the_blob_behind(store: FilesystemBlobStore, root: Path) -> None:
    await store.put("originals/a", b"first", "image/png")
    await store.put("originals/a", b"second", "image/png")

    assert files_under(root) == ["originals/a"]  # no ".tmp-" file left over
    assert await store.get("originals/a") == b"second"


async def test_a_large_blob_streams_in_bounded_chunks(store: FilesystemBlobStore) -> None:
    data = bytes(range(256)) * (CHUNK_SIZE * 3 // 256) + b"tail"
    await store.put("results/big", data, "application/octet-stream")

    chunks = [chunk async for chunk in store.stream("results/big")]

    assert len(chunks) > 1
    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE
    assert b"".join(chunks) == data


async def test_a_missing_key_is_reported_as_not_found(store: FilesystemBlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.get("originals/missing")
    with pytest.raises(BlobNotFound):
        await store.size("originals/missing")
    with pytest.raises(BlobNotFound):
        await anext(store.stream("originals/missing"))
    assert not await store.exists("originals/missing")


async def test_a_deleted_blob_is_gone_and_deleting_again_is_harmless(
    store: FilesystemBlobStore,
) -> None:
    await store.put("originals/a", b"a", "image/png")

    await store.delete("originals/a")
    await store.delete("originals/a")

    assert not await store.exists("originals/a")


async def test_deleting_a_prefix_removes_only_the_blobs_under_it(
    store: FilesystemBlobStore, root: Path
) -> None:
    for key in ("images/1/original", "images/1/r/a", "images/1/r/b", "images/10/x"):
        await store.put(key, b"data", "image/png")

    assert await store.delete_prefix("images/1/") == 3
    assert await store.delete_prefix("images/1/") == 0

    assert files_under(root) == ["images/10/x"]
    assert not (root / "images" / "1").exists()


async def test_sweeps_racing_over_the_same_prefix_remove_each_blob_once(
    store: FilesystemBlobStore, root: Path
) -> None:
    keys = [f"images/1/{d}/{n}" for d in range(10) for n in range(20)]
    for key in keys:
        await store.put(key, b"data", "image/png")

    counts = await asyncio.gather(*(store.delete_prefix("images/1/") for _ in range(4)))

    assert sum(counts) == len(keys)
    assert files_under(root) == []


@pytest.fixture
def broken_key(root: Path) -> str:
    """A key whose parent is a regular file: every access fails with ENOTDIR."""
    root.mkdir()
    (root / "images").write_bytes(b"a file where a directory belongs")
    return "images/1/original"


async def test_a_broken_directory_is_unavailable_not_missing(
    store: FilesystemBlobStore, broken_key: str
) -> None:
    for attempt in (
        store.get(broken_key),
        store.size(broken_key),
        store.exists(broken_key),
        store.delete(broken_key),
        store.delete_prefix("images/1/"),
        store.put(broken_key, b"data", "image/png"),
        anext(store.stream(broken_key)),
    ):
        with pytest.raises(DependencyUnavailable) as raised:
            await attempt
        assert raised.value.dependency == "blob directory"


async def test_a_sweep_that_cannot_remove_a_blob_fails_and_can_be_retried(
    store: FilesystemBlobStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("images/1/original", "images/1/result"):
        await store.put(key, b"data", "image/png")
    unlink = os.unlink

    def denied(path: str | os.PathLike[str]) -> None:
        if Path(path).name == "result":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        unlink(path)

    monkeypatch.setattr(os, "unlink", denied)
    with pytest.raises(DependencyUnavailable, match="Permission denied"):
        await store.delete_prefix("images/1/")
    assert files_under(root) == ["images/1/result"]

    monkeypatch.undo()
    assert await store.delete_prefix("images/1/") == 1
    assert files_under(root) == []
