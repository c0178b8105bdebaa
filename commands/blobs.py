"""The blob store port: bytes under keys, streamed out. It lives here because both the
API and the workers use it; the adapters are in infra/."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import BinaryIO, Protocol


class BlobStore(Protocol):
    """Where originals and results live.

    Writes are atomic: a reader sees the whole object or none. Every method
    raises `BlobNotFound` for a missing key (except `delete`, which is
    idempotent) and `DependencyUnavailable` when the store cannot be reached.
    """

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def put_file(self, key: str, file: BinaryIO, content_type: str) -> None:
        """Store what a seekable binary file holds from its position to its end, read a
        block at a time (never whole), off the event loop where reading blocks.

        The file stays open, the caller's to close or remove; but it is not to be
        written to again: a store may take a whole file on its own filesystem by
        reference (a hard link) instead of copying it."""
        ...

    async def get(self, key: str) -> bytes: ...

    def stream(self, key: str) -> AsyncGenerator[bytes, None]:
        """Yield the object in chunks; raises BlobNotFound before the first chunk."""
        ...

    async def size(self, key: str) -> int: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with prefix; return how many."""
        ...

    async def check(self) -> None:
        """Raise DependencyUnavailable unless the store answers."""
        ...
