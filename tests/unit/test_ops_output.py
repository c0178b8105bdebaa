"""The result's encoding: formats and their options, metadata, colour profiles, alpha."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.unit.corpus.icc import rgb_profile
from tests.unit.images import (
    ORIENTATION,
    WHITE,
    close_to,
    decoded,
    encoded,
    marked_corner,
    pixel,
    run,
    save,
)
from workers.imaging import ProcessingError, result_extension


@pytest.mark.parametrize(
    ("spec", "pillow_format", "extension"),
    [
        ("format:jpg", "JPEG", "jpg"),
        ("format:png", "PNG", "png"),
        ("format:webp", "WEBP", "webp"),
        ("format:gif", "GIF", "gif"),
        ("format:avif", "AVIF", "avif"),
    ],
)
def test_converting_to_each_output_format(spec: str, pillow_format: str, extension: str) -> None:
    result = run(encoded("PNG", (40, 20)), spec)

    shown = decoded(result.data)
    assert shown.format == pillow_format and shown.size == (40, 20)
    assert result.picture.content_type == f"image/{result.format}"
    assert result_extension(result.format) == extension


@pytest.mark.parametrize("output", ["jpeg", "webp", "avif"])
def test_quality_changes_the_encoded_size(output: str) -> None:
    photo = encoded("PNG", (200, 100))

    low, default = run(photo, f"format:{output},quality=5"), run(photo, f"format:{output}")

    assert len(low.data) < len(default.data)


def test_jpeg_is_baseline_unless_progressive_is_asked_for() -> None:
    photo = encoded("PNG", (64, 64))

    assert "progressive" not in decoded(run(photo, "format:jpeg").data).info
    assert decoded(run(photo, "format:jpeg,progressive=true").data).info.get("progressive")


def test_lossless_webp_keeps_every_pixel() -> None:
    original = encoded("PNG", (64, 32), "RGBA")

    result = decoded(run(original, "format:webp,lossless=true").data)

    assert result.convert("RGBA").tobytes() == decoded(original).tobytes()


def test_avif_keeps_transparency() -> None:
    clear = encoded("PNG", (16, 16), "RGBA", (0, 0, 255, 0))

    assert pixel(decoded(run(clear, "format:avif").data).convert("RGBA"), (8, 8))[3] == 0


@pytest.mark.parametrize(
    ("spec", "colour"), [("format:jpeg", WHITE), ("format:jpeg,background=000", (0, 0, 0))]
)
def test_transparency_is_flattened_onto_the_background_for_jpeg(
    spec: str, colour: tuple[int, int, int]
) -> None:
    clear = encoded("PNG", (20, 20), "RGBA", (255, 0, 0, 0))

    result = decoded(run(clear, spec).data)

    assert result.mode == "RGB" and close_to(pixel(result, (10, 10)), colour, 2)


def test_half_transparent_pixels_are_blended_with_the_background() -> None:
    half = encoded("PNG", (20, 20), "RGBA", (0, 0, 0, 128))

    assert close_to(pixel(decoded(run(half, "format:jpeg").data), (10, 10)), (127, 127, 127), 3)


# Metadata


def photo_with_metadata(orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[ORIENTATION] = orientation
    return save(marked_corner(), "JPEG", exif=exif.tobytes(), comment=b"secret")


def test_metadata_is_stripped_and_orientation_applied_by_default() -> None:
    result = run(photo_with_metadata(), "grayscale")

    shown = decoded(result.data)
    assert b"CameraMaker" not in result.data and b"secret" not in result.data
    assert len(shown.getexif()) == 0 and shown.size == (20, 40)


def test_strip_false_keeps_exif_but_not_the_orientation_already_applied() -> None:
    result = run(photo_with_metadata(), "format:jpeg,strip=false")

    exif = decoded(result.data).getexif()
    assert exif[0x010F] == "CameraMaker" and ORIENTATION not in exif
    assert (result.picture.width, result.picture.height) == (20, 40)


def tagged_red(profile: bytes) -> bytes:
    return save(Image.new("RGB", (8, 8), (255, 0, 0)), "PNG", icc_profile=profile)


def test_colours_in_another_profile_are_converted_to_srgb_and_the_profile_dropped() -> None:
    # With red and green primaries swapped, stored red is what sRGB calls green.
    result = decoded(run(tagged_red(rgb_profile()), "format:png").data)

    assert close_to(pixel(result, (4, 4)), (0, 255, 0), 2)
    assert "icc_profile" not in result.info


def test_strip_false_keeps_the_profile_and_the_pixels_as_they_are() -> None:
    profile = rgb_profile()

    result = decoded(run(tagged_red(profile), "format:png,strip=false").data)

    assert pixel(result, (4, 4)) == (255, 0, 0) and result.info["icc_profile"] == profile


def test_an_unreadable_profile_is_ignored() -> None:
    result = decoded(run(tagged_red(b"not a profile at all" * 10), "format:png").data)

    assert pixel(result, (4, 4)) == (255, 0, 0) and "icc_profile" not in result.info


def test_a_format_that_cannot_hold_the_size_fails_with_a_reason() -> None:
    wide = save(Image.new("L", (16384, 1), 0))

    with pytest.raises(ProcessingError, match="16383"):
        run(wide, "format:webp")
