"""The pipeline as a whole: what it returns, which format it picks, and what it guarantees.

Each operation has its own story in tests/unit/test_ops_*.py.
"""

from __future__ import annotations

import pytest

from tests.unit.images import decoded, encoded, png_header, run
from workers.imaging import ProcessingError, result_extension


def test_the_seed_spec_fits_an_image_into_a_100_pixel_box() -> None:
    result = run(encoded("PNG", (400, 200)), "resize:100x100")

    assert (result.format, result.picture.content_type) == ("png", "image/png")
    assert (result.picture.width, result.picture.height) == (100, 50) == decoded(result.data).size
    assert result.picture.size == len(result.data)
    assert result.frames == 1 and result.peak_bytes > 0


@pytest.mark.parametrize(
    ("input_format", "mode", "output"),
    [
        ("JPEG", "RGB", "jpeg"),
        ("PNG", "RGBA", "png"),
        ("WEBP", "RGB", "webp"),
        ("GIF", "P", "gif"),
        ("BMP", "RGB", "png"),
        ("TIFF", "RGB", "png"),
    ],
)
def test_without_a_format_the_input_format_is_kept_where_we_can_write_it(
    input_format: str, mode: str, output: str
) -> None:
    result = run(encoded(input_format, mode=mode), "resize:10")

    assert result.format == output
    assert result.picture.content_type == f"image/{output}"
    assert decoded(result.data).format == output.upper()


def test_the_last_format_decides() -> None:
    assert run(encoded("PNG"), "format:gif|resize:10|format:webp").format == "webp"


@pytest.mark.parametrize(
    ("format", "mode"), [("TIFF", "CMYK"), ("PNG", "I;16"), ("PNG", "P"), ("PNG", "1")]
)
def test_unusual_modes_are_converted_for_jpeg(format: str, mode: str) -> None:
    result = decoded(run(encoded(format, (16, 16), mode), "format:jpeg").data)

    assert result.format == "JPEG" and result.mode in ("RGB", "L")


def test_result_extensions_follow_the_format() -> None:
    formats = ("jpeg", "png", "webp", "gif", "avif")

    assert [result_extension(f) for f in formats] == ["jpg", "png", "webp", "gif", "avif"]
    with pytest.raises(ValueError):
        result_extension("bmp")


def test_the_same_input_and_spec_give_the_same_bytes() -> None:
    photo = encoded("JPEG", (300, 200))

    assert run(photo, "resize:120|sharpen").data == run(photo, "resize:120|sharpen").data


def test_rendering_leaves_the_original_bytes_unchanged() -> None:
    photo = encoded("JPEG", (300, 200))
    copy = bytes(bytearray(photo))

    run(photo, "resize:100|rotate:90|grayscale|format:png")

    assert photo == copy


def test_a_truncated_jpeg_with_a_good_header_fails_with_a_short_reason() -> None:
    photo = encoded("JPEG", (400, 300))

    with pytest.raises(ProcessingError) as raised:
        run(photo[: len(photo) // 2], "grayscale")

    assert "truncated" in raised.value.reason and "\n" not in raised.value.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not an image at all", "not an image"),
        (png_header(100_000, 100_000), "pixels"),
        (png_header(50, 50), "cannot be processed"),
    ],
    ids=["text", "bomb", "no-pixel-data"],
)
def test_undecodable_input_fails_with_a_processing_error(data: bytes, reason: str) -> None:
    with pytest.raises(ProcessingError, match=reason):
        run(data, "resize:10")
