"""Small images made in memory, for tests that need real encoded bytes."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from domain.spec import parse_spec
from workers.imaging import MAX_OUTPUT_DIMENSION, Rendered, render

ORIENTATION = 0x0112
LIMIT = 10_000_000
BLACK, WHITE = (0, 0, 0), (255, 255, 255)


def run(
    data: bytes,
    spec: str,
    max_pixels: int = LIMIT,
    max_dimension: int = MAX_OUTPUT_DIMENSION,
    time_limit: float | None = None,
) -> Rendered:
    """Render `spec` on `data` with test limits."""
    return render(
        data,
        parse_spec(spec),
        max_pixels=max_pixels,
        max_dimension=max_dimension,
        time_limit=time_limit,
    )


def looks_black(value: tuple[int, ...]) -> bool:
    return all(channel < 40 for channel in value[:3])


def close_to(value: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(value, expected, strict=True))


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    """Mean absolute difference per sample of two images of the same size and mode."""
    assert first.size == second.size and first.mode == second.mode
    a, b = first.tobytes(), second.tobytes()
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def encoded(
    format: str = "PNG",
    size: tuple[int, int] = (40, 20),
    mode: str = "RGB",
    color: float | tuple[int, ...] | str | None = None,
    orientation: int | None = None,
) -> bytes:
    """An image of one colour (a red-to-blue gradient when no colour is given)."""
    image = Image.new(mode, size, color) if color is not None else _gradient(size, mode)
    options: dict[str, object] = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """The pixel at xy as a tuple of channels, whatever the mode."""
    value = image.getpixel(xy)
    assert value is not None
    return value if isinstance(value, tuple) else (int(value),)


def marked_corner(size: tuple[int, int] = (40, 20)) -> Image.Image:
    """White with a black block in the top-left corner, to see where pixels end up."""
    image = Image.new("RGB", size, "white")
    image.paste((0, 0, 0), (0, 0, size[0] // 4, size[1] // 4))
    return image


def save(image: Image.Image, format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A valid PNG header claiming any size, followed by almost no pixel data."""
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + _chunk(b"IDAT", zlib.compress(b"\0" * 64))


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _gradient(size: tuple[int, int], mode: str) -> Image.Image:
    ramp = Image.linear_gradient("L").resize(size)
    image = Image.merge(
        "RGB", (ramp, Image.new("L", size, 64), ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    )
    return image.convert(mode)
