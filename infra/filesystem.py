"""Blob store on a local directory: the embedded default."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

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
        await anyio.to_thread.run_sync(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as e:
            raise DependencyUnavailable("blob directory", str(e)) from e

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await anyio.to_thread.run_sync(path.read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            f = await anyio.to_thread.run_sync(path.open, "rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        try:
            while chunk := await anyio.to_thread.run_sync(f.read, CHUNK_SIZE):
                yield chunk
        finally:
            f.close()

    async def size(self, key: str) -> int:
        try:
            return (await anyio.to_thread.run_sync(self._path(key).stat)).st_size
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    async def exists(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self._path(key).unlink(missing_ok=True))

    async def delete_prefix(self, prefix: str) -> int:
        return await anyio.to_thread.run_sync(self._delete_prefix, prefix)

    def _delete_prefix(self, prefix: str) -> int:
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if base.is_file():
            base.unlink()
            return 1
        if not base.is_dir():
            return 0
        count = sum(1 for p in base.rglob("*") if p.is_file())
        shutil.rmtree(base, ignore_errors=True)
        return count

    async def check(self) -> None:
        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise DependencyUnavailable("blob directory", f"{self.root} is not writable")

        await anyio.to_thread.run_sync(probe)
