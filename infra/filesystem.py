"""Blob store on a local directory: the embedded default.

A missing file is a missing blob (`BlobNotFound`); any other failure of the
directory (EACCES, EIO, ENOTDIR, a full disk) means the store is unusable for
now (`DependencyUnavailable`: 503 in the API, a retry in the workers).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from infra.blobs import CHUNK_SIZE
from infra.errors import BlobNotFound, DependencyUnavailable


class FilesystemBlobStore:
    """Keys are relative paths under root. Writes go to a temporary file in the
    same directory and are renamed into place, so readers never see half a blob."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        with _translated():
            await anyio.to_thread.run_sync(_write, path, lambda f: f.write(data))

    async def put_file(self, key: str, file: BinaryIO, content_type: str) -> None:
        path = self._path(key)
        with _translated():
            await anyio.to_thread.run_sync(_put_file, path, file)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        with _translated(key):
            return await anyio.to_thread.run_sync(path.read_bytes)

    async def stream(self, key: str) -> AsyncGenerator[bytes, None]:
        path = self._path(key)
        with _translated(key):
            f = await anyio.to_thread.run_sync(path.open, "rb")
        try:
            while True:
                with _translated(key):
                    chunk = await anyio.to_thread.run_sync(f.read, CHUNK_SIZE)
                if not chunk:
                    return
                yield chunk
        finally:
            f.close()

    async def size(self, key: str) -> int:
        path = self._path(key)
        with _translated(key):
            return (await anyio.to_thread.run_sync(path.stat)).st_size

    async def exists(self, key: str) -> bool:
        path = self._path(key)
        with _translated(key):
            return await anyio.to_thread.run_sync(_is_file, path)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        with _translated(key):
            await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def delete_prefix(self, prefix: str) -> int:
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        with _translated(prefix):
            return await anyio.to_thread.run_sync(_delete_tree, base)

    async def check(self) -> None:
        with _translated():
            await anyio.to_thread.run_sync(lambda: self.root.mkdir(parents=True, exist_ok=True))
        if not await anyio.to_thread.run_sync(os.access, self.root, os.W_OK):
            raise DependencyUnavailable("blob directory", f"{self.root} is not writable")


@contextlib.contextmanager
def _translated(key: str | None = None) -> Iterator[None]:
    """A missing file under a key is a missing blob; any other failure, an unusable store."""
    try:
        yield
    except OSError as e:
        if key is not None and isinstance(e, FileNotFoundError):
            raise BlobNotFound(key) from None
        raise DependencyUnavailable("blob directory", str(e)) from e


def _write(path: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Write a file through `fill` beside path, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _put_file(path: Path, file: BinaryIO) -> None:
    """Store the rest of file at path. A whole file with a name on this filesystem (an
    upload spooled beside the store) is hard-linked into place: its bytes are not
    copied, nor written again. Anything else is copied a block at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if _is_whole_file_on(path.parent, file):
        tmp = path.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            os.link(file.name, tmp)
        except OSError:
            pass  # a filesystem without hard links: copy instead
        else:
            try:
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
            return
    _write(path, lambda f: shutil.copyfileobj(file, f, CHUNK_SIZE))


def _is_whole_file_on(directory: Path, file: BinaryIO) -> bool:
    """Whether file, read from its start, is the file its name names, on the same
    filesystem as directory."""
    name = getattr(file, "name", None)
    if not isinstance(name, str) or file.tell() != 0:
        return False
    file.flush()
    try:
        named, opened = os.stat(name), os.fstat(file.fileno())
    except (OSError, ValueError):
        return False
    same_file = (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)
    return same_file and named.st_dev == os.stat(directory).st_dev


def _is_file(path: Path) -> bool:
    """Unlike Path.is_file, which answers False to any failure, a broken directory raises."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return False


def _delete_tree(base: Path) -> int:
    """Delete base, a file or a directory with everything under it; return how many files
    this call removed. What a concurrent removal took first is no failure; anything else
    is, so a caller never records as done a deletion that left files behind."""
    if not base.is_dir():
        return int(_removed(os.unlink, base))
    removed = 0
    for directory, subdirectories, files in os.walk(base, topdown=False, onerror=_unless_gone):
        removed += sum(_removed(os.unlink, Path(directory, name)) for name in files)
        for name in subdirectories:
            _removed(os.rmdir, Path(directory, name))
    _removed(os.rmdir, base)
    return removed


def _removed(remove: Callable[[Path], None], path: Path) -> bool:
    try:
        remove(path)
    except FileNotFoundError:
        return False
    return True


def _unless_gone(error: OSError) -> None:
    if not isinstance(error, FileNotFoundError):
        raise error
