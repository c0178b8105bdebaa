"""What an upload really is, read from its header before anything is stored.

The client's content type is never trusted: the bytes are sniffed by Pillow (WebP's
header by us), limited to the formats we accept, and the pixel count is checked from the
header so that a decompression bomb is refused without being decoded. Only the header is
read, so an upload spooled to disk is probed where it lies.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from domain.errors import CorruptImage, EmptyImage, TooManyPixels, UnsupportedImage

# The formats we accept, as Pillow names them (for Image.open(formats=...)); ours are in
# lower case.
PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
# A JPEG holding several pictures (as cameras write) opens as MPO; it is still a JPEG.
_ALIASES = {"MPO": "jpeg"}

# What we write, each as "image/<name>": what we accept, and AVIF, an output format only.
_OUTPUTS = frozenset(name.lower() for name in PILLOW_FORMATS) | {"avif"}

# Leading bytes of the accepted formats: a file that starts like one of them but does
# not open is a damaged image, not a foreign file.
_SIGNATURES = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
    b"II+\x00",
    b"MM\x00+",
)
# "BM" alone starts plenty of text; a BMP also has a DIB header whose size is one of these.
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
# The bytes the checks above and the WebP header need: the most the probe reads itself.
_LEAD_BYTES = 32


@dataclass(frozen=True)
class ImageInfo:
    format: str
    content_type: str
    width: int
    height: int


def content_type_for(format: str) -> str:
    """The media type of one of our format names ('jpeg', 'png', ...)."""
    if format not in _OUTPUTS:
        raise ValueError(f"unknown image format {format!r}")
    return f"image/{format}"


def format_name(pillow_format: str | None) -> str | None:
    """Our name for a format Pillow reports, or None when it is not one we accept."""
    if pillow_format in PILLOW_FORMATS:
        return pillow_format.lower()
    return _ALIASES.get(pillow_format or "")


def allow_pixels(max_pixels: int) -> None:
    """Raise Pillow's own decompression-bomb ceiling to our pixel limit when that is
    higher, so that our limit, checked from the header, is the one that decides.

    Pillow keeps the ceiling in a module global; the composition root calls this
    once at start."""
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, max_pixels)


def probe(source: bytes | BinaryIO, *, max_pixels: int) -> ImageInfo:
    """Identify an upload from its header alone; raises an InvalidImage subclass.

    `source` is the upload's bytes, or a seekable binary file (an upload spooled to
    disk) positioned at the image's start. Only the header is read: Pillow reads a
    format's header when it opens a file and decodes pixels on load(), which we never
    call; WebP, which Pillow reads whole on opening, has its header read here. The file
    is left where it was."""
    file = io.BytesIO(source) if isinstance(source, bytes) else source
    start = file.tell()
    lead = file.read(_LEAD_BYTES)
    file.seek(start)
    if not lead:
        raise EmptyImage()
    if _is_webp(lead):
        return _checked("webp", *_webp_size(lead), max_pixels)
    try:
        # Opening reads the header only; pixels are decoded on load(), which we never call.
        with Image.open(file, formats=list(PILLOW_FORMATS)) as image:
            pillow_format, (width, height) = image.format, image.size
    except Image.DecompressionBombError as bomb:
        raise TooManyPixels(_pixels_in(str(bomb)), max_pixels) from None
    except UnidentifiedImageError:
        if _looks_like_accepted_format(lead):
            raise CorruptImage("the header is truncated or damaged") from None
        raise UnsupportedImage() from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        # A reader that took the file for its format gave up: text that starts like a
        # BMP reaches here too, so only a file that looks like one is a damaged image.
        if not _looks_like_accepted_format(lead):
            raise UnsupportedImage() from None
        raise CorruptImage(_first_line(error)) from None
    finally:
        file.seek(start)
    ours = format_name(pillow_format)
    if ours is None:
        raise UnsupportedImage()
    return _checked(ours, width, height, max_pixels)


def _checked(format: str, width: int, height: int, max_pixels: int) -> ImageInfo:
    if width <= 0 or height <= 0:
        raise CorruptImage(f"the header claims a size of {width}x{height}")
    if width * height > max_pixels:
        raise TooManyPixels(width * height, max_pixels)
    return ImageInfo(format, content_type_for(format), width, height)


def _is_webp(lead: bytes) -> bool:
    return lead[:4] == b"RIFF" and lead[8:12] == b"WEBP"


def _webp_size(lead: bytes) -> tuple[int, int]:
    """The canvas size in a WebP file's first chunk: VP8X (extended: alpha, animation,
    metadata), VP8L (lossless) or VP8 (lossy), as the WebP container spec lays them out."""
    chunk, data = lead[12:16], lead[20:30]
    if chunk == b"VP8X" and len(data) >= 10:
        return 1 + int.from_bytes(data[4:7], "little"), 1 + int.from_bytes(data[7:10], "little")
    if chunk == b"VP8L" and len(data) >= 5 and data[0] == 0x2F:
        bits = int.from_bytes(data[1:5], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and len(data) >= 10 and data[3:6] == b"\x9d\x01\x2a":
        width, height = int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        return width & 0x3FFF, height & 0x3FFF
    raise CorruptImage("the WebP header is truncated or damaged")


def _looks_like_accepted_format(data: bytes) -> bool:
    """Whether a file Pillow could not open starts like one of our formats (WebP never
    reaches Pillow)."""
    is_bmp = (
        data[:2] == b"BM"
        and len(data) >= 18
        and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES
    )
    return is_bmp or data.startswith(_SIGNATURES)


def _pixels_in(message: str) -> int:
    """The pixel count in Pillow's decompression-bomb message (0 if it cannot be found)."""
    found = re.search(r"\((\d+) pixels\)", message)
    return int(found[1]) if found else 0


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
