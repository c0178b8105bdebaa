"""Probing an upload: its real type and size come from its header, never from the client."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from domain.errors import CorruptImage, EmptyImage, TooManyPixels, UnsupportedImage
from infra.imaging import ImageInfo, allow_pixels, content_type_for, probe
from tests.unit.images import encoded, png_header, save

LIMIT = 1_000_000


@pytest.mark.parametrize(
    ("pillow_format", "mode", "format", "content_type"),
    [
        ("JPEG", "RGB", "jpeg", "image/jpeg"),
        ("PNG", "RGBA", "png", "image/png"),
        ("WEBP", "RGB", "webp", "image/webp"),
        ("GIF", "P", "gif", "image/gif"),
        ("TIFF", "CMYK", "tiff", "image/tiff"),
        ("BMP", "RGB", "bmp", "image/bmp"),
    ],
)
def test_each_accepted_format_is_recognised_with_its_size(
    pillow_format: str, mode: str, format: str, content_type: str
) -> None:
    info = probe(encoded(pillow_format, (40, 20), mode), max_pixels=LIMIT)

    assert info == ImageInfo(format=format, content_type=content_type, width=40, height=20)


def test_the_probe_reads_the_header_without_decoding_pixels() -> None:
    # The pixel data after this header is far too short for 3000x2000; only a decode would notice.
    assert probe(png_header(3000, 2000), max_pixels=10_000_000).width == 3000


def test_an_empty_upload_is_rejected() -> None:
    with pytest.raises(EmptyImage):
        probe(b"", max_pixels=LIMIT)


@pytest.mark.parametrize(
    "data",
    [
        b"just some text, not an image\n",
        b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n",
        encoded("ICO", (32, 32)),
        encoded("PPM", (8, 8)),
        b"BMW drivers list\n",
        b"BMW drivers list\nAnna\nBen\nCarla\n",
    ],
    ids=["text", "pdf", "ico", "ppm", "text-starting-like-bmp", "longer-text-starting-like-bmp"],
)
def test_anything_but_an_accepted_image_format_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedImage):
        probe(data, max_pixels=LIMIT)


@pytest.mark.parametrize(
    "data",
    [
        encoded("PNG", (40, 20))[:20],
        encoded("JPEG", (40, 20))[:30],
        encoded("GIF", (40, 20), "P")[:8],
        b"\x89PNG\r\n\x1a\n",
        encoded("BMP", (40, 20))[:30],
    ],
    ids=["png", "jpeg", "gif", "png-signature-only", "bmp"],
)
def test_a_truncated_header_is_a_corrupt_image(data: bytes) -> None:
    with pytest.raises(CorruptImage):
        probe(data, max_pixels=LIMIT)


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    with pytest.raises(TooManyPixels) as raised:
        probe(png_header(100_000, 100_000), max_pixels=LIMIT)

    assert raised.value.pixels == 10_000_000_000
    assert raised.value.limit == LIMIT


def test_an_image_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(TooManyPixels) as raised:
        probe(encoded("PNG", (200, 100)), max_pixels=19_999)

    assert raised.value.pixels == 20_000


def test_an_image_exactly_at_the_pixel_limit_is_accepted() -> None:
    assert probe(encoded("PNG", (200, 100)), max_pixels=20_000).height == 100


def test_content_types_are_named_for_our_formats() -> None:
    assert content_type_for("jpeg") == "image/jpeg"
    assert content_type_for("webp") == "image/webp"
    with pytest.raises(ValueError):
        content_type_for("pdf")


def test_a_pixel_limit_above_pillows_own_ceiling_is_the_one_that_decides() -> None:
    before = Image.MAX_IMAGE_PIXELS
    header = png_header(15_000, 15_000)  # 225 MP: past Pillow's default ceiling
    try:
        allow_pixels(300_000_000)
        assert probe(header, max_pixels=300_000_000).width == 15_000
        with pytest.raises(TooManyPixels):
            probe(header, max_pixels=200_000_000)
    finally:
        Image.MAX_IMAGE_PIXELS = before


class CountingFile(io.BytesIO):
    """A file that counts the bytes read from it."""

    read_bytes = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.read_bytes += len(data)
        return data


def noise(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    return Image.merge("RGB", [Image.effect_noise(size, 60) for _ in range(3)]).convert(mode)


@pytest.mark.parametrize(
    ("pillow_format", "mode"),
    [
        ("JPEG", "RGB"),
        ("PNG", "RGB"),
        ("WEBP", "RGB"),
        ("GIF", "P"),
        ("TIFF", "RGB"),
        ("BMP", "RGB"),
    ],
)
def test_a_file_is_probed_from_its_header_and_left_where_it_was(
    pillow_format: str, mode: str
) -> None:
    data = save(noise((600, 400), mode), pillow_format)
    file = CountingFile(data)

    info = probe(file, max_pixels=LIMIT)

    assert (info.width, info.height) == (600, 400)
    assert file.tell() == 0
    assert file.read_bytes < 16 * 1024 < 100 * 1024 < len(data), "only the header is read"


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        (b"VP8 ", {"quality": 80}),
        (b"VP8L", {"lossless": True}),
        (b"VP8X", {"quality": 80, "exif": b"Exif\0\0II*\0\x08\0\0\0\0\0"}),
        (b"VP8X", {"save_all": True, "append_images": [Image.new("RGB", (301, 203))]}),
    ],
    ids=["lossy", "lossless", "extended", "animated"],
)
def test_webp_sizes_are_read_from_each_kind_of_first_chunk(
    kind: bytes, options: dict[str, object]
) -> None:
    data = save(noise((301, 203)), "WEBP", **options)
    assert data[12:16] == kind

    info = probe(data, max_pixels=LIMIT)

    assert (info.format, info.width, info.height) == ("webp", 301, 203)
    assert (info.width, info.height) == Image.open(io.BytesIO(data)).size


@pytest.mark.parametrize(
    "data",
    [
        encoded("WEBP", (40, 20))[:24],
        b"RIFF\x20\0\0\0WEBPVP9 " + b"\0" * 20,
        b"RIFF\x20\0\0\0WEBPVP8 " + b"\0" * 20,
    ],
    ids=["truncated", "unknown chunk", "lossy without its start code"],
)
def test_a_damaged_webp_header_is_a_corrupt_image(data: bytes) -> None:
    with pytest.raises(CorruptImage):
        probe(data, max_pixels=LIMIT)


def test_a_webp_over_the_pixel_limit_is_refused_from_its_header() -> None:
    with pytest.raises(TooManyPixels):
        probe(encoded("WEBP", (200, 100)), max_pixels=19_999)
