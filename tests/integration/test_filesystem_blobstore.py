"""The filesystem blob store on a real directory, beyond the contract every store holds
(test_blob_store_contract.py): atomic writes, sweeps that tidy and race, and a broken
directory reported as unavailable rather than as a crash or a success."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest

from infra.errors import DependencyUnavailable
from infra.filesystem import FilesystemBlobStore


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def store(root: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(root)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_a_write_leaves_only_the_blob_behind(store: FilesystemBlobStore, root: Path) -> None:
    await store.put("originals/a", b"first", "image/png")
    await store.put("originals/a", b"second", "image/png")

    assert files_under(root) == ["originals/a"]  # no ".tmp-" file left over
    assert await store.get("originals/a") == b"second"


async def put_spooled(
    store: FilesystemBlobStore, tmp_path: Path, data: bytes, *, start: int = 0
) -> Path:
    """Store `data` from `start` on, handed over as an upload's spooled file is; the file."""
    spooled = tmp_path / "upload.part"
    with spooled.open("w+b") as file:
        file.write(data)
        file.seek(start)
        await store.put_file("originals/a", file, "image/png")
    return spooled


async def test_a_file_spooled_on_the_stores_filesystem_is_linked_not_copied(
    store: FilesystemBlobStore, root: Path, tmp_path: Path
) -> None:
    spooled = await put_spooled(store, tmp_path, b"spooled bytes")

    assert (root / "originals/a").stat().st_ino == spooled.stat().st_ino
    assert files_under(root) == ["originals/a"]


async def test_a_file_read_from_its_middle_is_copied_not_linked(
    store: FilesystemBlobStore, root: Path, tmp_path: Path
) -> None:
    spooled = await put_spooled(store, tmp_path, b"framing|image", start=len(b"framing|"))

    assert (root / "originals/a").stat().st_ino != spooled.stat().st_ino
    assert await store.get("originals/a") == b"image"


async def test_a_swept_prefix_leaves_no_directory_behind(
    store: FilesystemBlobStore, root: Path
) -> None:
    for key in ("images/1/original", "images/1/r/a", "images/1/r/b", "images/10/x"):
        await store.put(key, b"data", "image/png")

    await store.delete_prefix("images/1/")

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
