"""Awkward inputs: CMYK, 16-bit, palettes with transparency, animations, EXIF orientations,
every accepted container, and truncated files."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.unit.corpus import (
    animated,
    cmyk_jpeg,
    oriented_jpeg,
    palette_png_with_transparency,
    progressive_jpeg,
    sixteen_bit_png,
    truncated,
)
from tests.unit.images import (
    WHITE,
    close_to,
    decoded,
    encoded,
    looks_black,
    mean_difference,
    pixel,
    run,
)
from workers.imaging import ProcessingError


def test_a_cmyk_jpeg_becomes_rgb_with_its_colours() -> None:
    cyan = cmyk_jpeg((255, 0, 0, 0))

    result = decoded(run(cyan, "resize:16").data)

    assert result.mode == "RGB" and close_to(pixel(result, (8, 6)), (0, 255, 255), 20)


def test_a_progressive_jpeg_is_read_and_shrunk_on_load() -> None:
    result = run(progressive_jpeg((640, 480)), "resize:80")

    assert (result.picture.width, result.picture.height) == (80, 60)
    assert looks_black(pixel(decoded(result.data), (2, 2)))


@pytest.mark.parametrize(("level", "gray"), [(0, 0), (32768, 128), (65535, 255)])
def test_16_bit_samples_are_scaled_to_8_bits(level: int, gray: int) -> None:
    result = decoded(run(sixteen_bit_png(level), "format:png").data)

    assert result.mode == "L" and abs(pixel(result, (0, 0))[0] - gray) <= 1


def test_a_palette_with_a_transparent_colour_keeps_its_transparency() -> None:
    source = palette_png_with_transparency()

    kept = decoded(run(source, "resize:10").data)
    flat = decoded(run(source, "format:jpeg").data)

    assert kept.mode == "RGBA" and pixel(kept, (1, 2))[3] == 0 and pixel(kept, (8, 2))[3] == 255
    assert close_to(pixel(flat, (2, 2)), WHITE, 4) and close_to(pixel(flat, (17, 2)), (0, 0, 255))


@pytest.mark.parametrize(("input_format", "output"), [("GIF", "gif"), ("WEBP", "webp")])
def test_an_animation_stays_animated_in_a_format_that_can_hold_it(
    input_format: str, output: str
) -> None:
    result = run(animated(input_format, durations=(100, 200, 300)), "resize:20")

    shown = decoded(result.data)
    assert result.format == output and result.frames == 3
    assert getattr(shown, "n_frames", 1) == 3 and shown.size == (20, 10)
    colours = []
    for index in range(3):
        shown.seek(index)
        colours.append(pixel(shown.convert("RGB"), (15, 7)))
        assert shown.info["duration"] == (index + 1) * 100
    assert close_to(colours[0], (255, 0, 0), 30) and close_to(colours[2], (0, 0, 255), 30)


@pytest.mark.parametrize("output", ["webp", "png"])
def test_an_animated_gif_can_become_an_animated_webp_or_png(output: str) -> None:
    result = run(animated("GIF"), f"format:{output}")

    shown = decoded(result.data)
    assert result.frames == 3 and getattr(shown, "n_frames", 1) == 3
    shown.seek(2)
    assert close_to(pixel(shown.convert("RGB"), (30, 15)), (0, 0, 255), 30)


@pytest.mark.parametrize("spec", ["format:jpeg", "resize:20|format:avif"])
def test_an_animation_keeps_its_first_frame_in_a_still_format(spec: str) -> None:
    result = run(animated("GIF"), spec)

    first = decoded(result.data).convert("RGB")
    assert result.frames == 1 and getattr(decoded(result.data), "n_frames", 1) == 1
    assert close_to(pixel(first, (first.width * 3 // 4, first.height * 3 // 4)), (255, 0, 0), 40)


def test_every_frame_of_an_animation_goes_through_the_same_steps() -> None:
    result = run(animated("GIF"), "rotate:90|grayscale|resize:10x10,mode=fill,gravity=smart")
    shown = decoded(result.data)

    assert result.frames == 3
    marks = set()
    for index in range(3):
        shown.seek(index)
        frame = shown.convert("L")
        assert frame.size == (10, 10)
        marks.add(frame.point(lambda value: 255 if value < 15 else 0).tobytes())
    assert len(marks) == 1  # the black block sits at the same place in every frame


def test_a_gif_that_plays_once_still_plays_once() -> None:
    once = decoded(run(animated("GIF", loop=None), "resize:20").data)
    forever = decoded(run(animated("GIF", loop=0), "resize:20").data)

    assert "loop" not in once.info and forever.info["loop"] == 0


# EXIF orientation: where the stored top-left corner shows once the picture is upright.
@pytest.mark.parametrize(
    ("orientation", "size", "corner"),
    [
        (1, (40, 20), (0, 0)),
        (2, (40, 20), (39, 0)),
        (3, (40, 20), (39, 19)),
        (4, (40, 20), (0, 19)),
        (5, (20, 40), (0, 0)),
        (6, (20, 40), (19, 0)),
        (7, (20, 40), (19, 39)),
        (8, (20, 40), (0, 39)),
    ],
)
def test_each_exif_orientation_is_applied(
    orientation: int, size: tuple[int, int], corner: tuple[int, int]
) -> None:
    result = decoded(run(oriented_jpeg(orientation), "format:png").data)

    assert result.size == size
    assert looks_black(pixel(result, corner))
    assert not looks_black(pixel(result, (size[0] - 1 - corner[0], size[1] - 1 - corner[1])))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_turned_photo_shrunk_on_load_matches_the_upright_picture_shrunk(
    orientation: int,
) -> None:
    photo = oriented_jpeg(orientation, (400, 200))
    upright = decoded(run(photo, "format:png").data)

    result = decoded(run(photo, "resize:x40|format:png").data)

    expected = upright.resize(result.size, Image.Resampling.LANCZOS)
    assert result.size == ((20, 40) if orientation >= 5 else (80, 40))
    assert mean_difference(result, expected) < 4


@pytest.mark.parametrize(
    ("format", "mode"),
    [
        ("TIFF", "RGB"),
        ("TIFF", "CMYK"),
        ("TIFF", "I;16"),
        ("BMP", "RGB"),
        ("BMP", "P"),
        ("BMP", "1"),
    ],
)
def test_tiff_and_bmp_in_any_mode_become_png(format: str, mode: str) -> None:
    result = run(encoded(format, (16, 8), mode), "resize:8")

    assert result.format == "png" and decoded(result.data).size == (8, 4)


@pytest.mark.parametrize(
    "data",
    [
        encoded("JPEG", (300, 200)),
        progressive_jpeg(),
        encoded("PNG", (300, 200)),
        encoded("GIF", (300, 200), "P"),
        encoded("WEBP", (300, 200)),
        encoded("TIFF", (300, 200)),
        encoded("BMP", (300, 200)),
        animated("GIF"),
    ],
    ids=["jpeg", "progressive-jpeg", "png", "gif", "webp", "tiff", "bmp", "animated-gif"],
)
def test_a_truncated_file_fails_with_a_one_line_reason(data: bytes) -> None:
    with pytest.raises(ProcessingError) as raised:
        run(truncated(data, 0.6), "resize:50")

    assert raised.value.reason and "\n" not in raised.value.reason


def test_la_and_one_bit_images_are_handled() -> None:
    assert decoded(run(encoded("PNG", (8, 8), "LA"), "resize:4").data).mode == "LA"
    assert decoded(run(encoded("PNG", (8, 8), "1"), "resize:4").data).mode == "L"


def test_a_tiff_in_lab_colour_is_converted() -> None:
    lab = encoded("TIFF", (8, 8), "LAB", (50, 0, 0))

    assert decoded(run(lab, "format:jpeg").data).mode in ("RGB", "L")
