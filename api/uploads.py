"""Receiving an upload: the multipart body parsed as it arrives, the file spooled.

Litestar's own form parsing (`UploadFile`) spools a file too, but once the file passes
1 MiB it writes every chunk the server hands over to the temporary file from a worker
thread of its own, and a handler then has to read the whole file back to look at it.
Here the body is parsed from `request.stream()` with the same parser Litestar uses
(multipart's `PushMultipartParser`), and the file part goes into a `Spool`: in memory
up to its `memory_bytes`, past that on to a temporary file, a block of `memory_bytes`
at a time from a worker thread. The probe reads the header where the file lies, and
the blob store takes the file from there (a local store links it into place).

What one upload holds in memory, whatever its size: at most `memory_bytes` of its file,
the chunk the server is handing over, and its text fields (at most FIELD_BYTES).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from litestar import Request
from litestar.exceptions import ClientException, ValidationException
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

from api.deps import in_thread
from domain.errors import ImageTooLarge
from infra.errors import DependencyUnavailable

FIELD_BYTES = 64 * 1024
"""The most bytes a text field of the form (the processing spec) may have."""

IMAGE_FIELD = "image"
TEXT_FIELDS = frozenset({"processing"})


class Spool:
    """The bytes of one file as they arrive: in memory up to `memory_bytes`, then in a
    temporary file, written a block of about `memory_bytes` at a time from a worker
    thread. The file is named, in `directory`, when one is given (a local blob store
    links such a file into place instead of copying it), else unnamed in the system's
    temporary directory (TMPDIR); either way it is gone once the spool is closed.

    The chunks written are kept as they come, not copied into a buffer, until a block
    is full: memory holds at most `memory_bytes` plus one chunk of the file (and, for
    the moment they are joined, twice a file that fitted in memory).
    """

    def __init__(self, memory_bytes: int, directory: Path | None = None) -> None:
        self.memory_bytes = memory_bytes
        self.directory = directory
        self.size = 0
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._file: BinaryIO | None = None

    @property
    def on_disk(self) -> bool:
        return self._file is not None

    @property
    def in_memory(self) -> int:
        """How many of the bytes are held in memory right now."""
        return self._held_bytes

    async def write(self, data: bytes) -> None:
        self._held.append(data)
        self._held_bytes += len(data)
        self.size += len(data)
        if self._held_bytes >= self.memory_bytes:
            await in_thread(self._append, self._take_held())

    async def file(self) -> BinaryIO:
        """Everything written, as a file positioned at its start: in memory when it all
        fitted (the chunks joined once, then dropped), else the temporary file with the
        rest moved there."""
        if self._file is None:
            return io.BytesIO(b"".join(self._take_held()))
        await in_thread(self._append, self._take_held(), rewind=True)
        return self._file

    async def close(self) -> None:
        self._held = []
        if self._file is not None:
            await in_thread(self._remove, self._file)

    def _take_held(self) -> list[bytes]:
        held, self._held, self._held_bytes = self._held, [], 0
        return held

    def _append(self, chunks: list[bytes], *, rewind: bool = False) -> None:
        """Write chunks at the end of the temporary file (opened on the first call), then
        go back to its start if asked. Runs in a worker thread."""
        try:
            if self._file is None:
                self._file = self._open()
            self._file.writelines(chunks)
            if rewind:
                self._file.seek(0)
        except OSError as e:
            raise DependencyUnavailable("temporary directory", str(e)) from e

    def _open(self) -> BinaryIO:
        if self.directory is None:
            return tempfile.TemporaryFile()
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{uuid.uuid4().hex}.part"
        return open(path, "x+b", opener=_private)

    @staticmethod
    def _remove(file: BinaryIO) -> None:
        file.close()
        if isinstance(file.name, str):  # a named file: a link the store made keeps its bytes
            with contextlib.suppress(FileNotFoundError):
                os.unlink(file.name)


def _private(path: str, flags: int) -> int:
    """Open as tempfile does: readable and writable by the owner only."""
    return os.open(path, flags, 0o600)


@dataclass
class ReceivedUpload:
    """The form of an upload: the image's bytes (spooled), its name, the spec if any."""

    image: Spool
    file_name: str
    processing: str | None


@contextlib.asynccontextmanager
async def received_upload(
    request: Request[Any, Any, Any],
    *,
    max_file_bytes: int,
    memory_bytes: int,
    directory: Path | None = None,
) -> AsyncIterator[ReceivedUpload]:
    """Read the multipart body of an upload; the spooled file is freed on leaving.

    Raises ImageTooLarge as soon as the file passes `max_file_bytes`, and Litestar's
    ClientException (400) for a body that is not a form of one `image` file and at most
    one `processing` field. Other fields are read past and dropped.
    """
    form = _Form(Spool(memory_bytes, directory), max_file_bytes)
    try:
        await form.read(request)
        yield form.received()
    finally:
        await form.image.close()


class _Form:
    """The form as the parser reports it, part by part."""

    def __init__(self, image: Spool, max_file_bytes: int) -> None:
        self.image = image
        self.max_file_bytes = max_file_bytes
        self.file_name: str | None = None
        self.texts: dict[str, tuple[bytearray, str]] = {}  # name: (value, charset)
        self._into: Spool | bytearray | None = None  # where the current part's bytes go
        self._part = ""

    async def read(self, request: Request[Any, Any, Any]) -> None:
        media_type, options = request.content_type
        boundary = options.get("boundary", "")
        if media_type != "multipart/form-data" or not boundary:
            raise ClientException("expected a multipart/form-data body (with its boundary)")
        limit = request.app.multipart_form_part_limit
        try:
            with PushMultipartParser(boundary.encode(), max_segment_count=limit) as parser:
                async for chunk in request.stream():
                    for event in parser.parse(chunk):
                        if isinstance(event, MultipartSegment):
                            self._begin(event)
                        elif event:
                            await self._take(event)
        except (ParserError, ParserLimitReached):
            raise ClientException("Invalid multipart/form-data") from None

    def received(self) -> ReceivedUpload:
        if self.file_name is None:
            raise _invalid("Object missing required field `image`", key=IMAGE_FIELD)
        processing = self.texts.get("processing")
        return ReceivedUpload(
            self.image,
            self.file_name,
            None if processing is None else _text("processing", *processing),
        )

    def _begin(self, part: MultipartSegment) -> None:
        """Where a part's bytes go: the image to the spool, a known text field to a
        buffer of its own, anything else nowhere."""
        self._part = name = part.name or ""
        if name in self.texts or (name == IMAGE_FIELD and self.file_name is not None):
            raise _invalid("Expected one value, got several", key=name)
        if name == IMAGE_FIELD:
            if not part.filename:
                # Without a file name a part is a text field, as Litestar and browsers read it.
                raise _invalid("Expected a file (a part with a filename)", key=name)
            self.file_name = part.filename
            self._into = self.image
        elif name in TEXT_FIELDS:
            self._into = bytearray()
            self.texts[name] = (self._into, part.charset or "utf-8")
        else:
            self._into = None

    async def _take(self, data: bytes) -> None:
        if self._into is self.image:
            if self.image.size + len(data) > self.max_file_bytes:
                raise ImageTooLarge(self.image.size + len(data), self.max_file_bytes)
            await self.image.write(data)
        elif isinstance(self._into, bytearray):
            self._into += data
            if len(self._into) > FIELD_BYTES:
                raise _invalid(f"Longer than {FIELD_BYTES} bytes", key=self._part)


def _text(name: str, value: bytearray, charset: str) -> str:
    """A text field's value; UnicodeDecodeError (a 400) when it is not in its charset."""
    try:
        return value.decode(charset)
    except LookupError:
        raise _invalid(f"Unknown charset {charset!r}", key=name) from None


def _invalid(message: str, *, key: str) -> ValidationException:
    """A 400 shaped as Litestar's own validation problems: `errors` says where."""
    return ValidationException(
        detail="Validation failed for the upload form",
        extra=[{"message": message, "key": key, "source": "body"}],
    )
