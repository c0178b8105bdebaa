"""The pixel pipeline: each operation on small images, the output encodings, and failures."""

from __future__ import annotations

import pytest
from PIL import Image

from domain.spec import parse_spec
from tests.unit.images import (
    ORIENTATION,
    decoded,
    encoded,
    marked_corner,
    pixel,
    png_header,
    save,
)
from workers.pipeline import ProcessingError, Rendered, render, result_extension

LIMIT = 10_000_000
BLACK, WHITE = (0, 0, 0), (255, 255, 255)


def run(data: bytes, spec: str, max_pixels: int = LIMIT) -> Rendered:
    return render(data, parse_spec(spec), max_pixels=max_pixels)


def looks_black(pixel: tuple[int, ...]) -> bool:
    return all(channel < 40 for channel in pixel[:3])


# Resizing


@pytest.mark.parametrize("format", ["JPEG", "PNG"])
def test_resizing_a_wide_image_into_a_square_box_keeps_its_aspect(format: str) -> None:
    result = run(encoded(format, (400, 200)), "resize:100x100")

    assert (result.width, result.height) == (100, 50)
    assert decoded(result.data).size == (100, 50)


@pytest.mark.parametrize(
    ("spec", "size"),
    [
        ("resize:100", (100, 50)),
        ("resize:x50", (100, 50)),
        ("resize:1000x1000", (400, 200)),
        ("resize:1000,upscale=true", (1000, 500)),
        ("resize:100x100,mode=fill", (100, 100)),
        ("resize:100x100,mode=force", (100, 100)),
        ("resize:1000x1000,mode=force", (1000, 1000)),
        ("resize:800x800,mode=fill", (200, 200)),
        ("resize:800x800,mode=fill,upscale=true", (800, 800)),
        ("thumbnail:80", (80, 40)),
        ("thumbnail:1000", (400, 200)),
    ],
)
def test_resize_modes_give_the_expected_size(spec: str, size: tuple[int, int]) -> None:
    result = run(encoded("PNG", (400, 200)), spec)

    assert (result.width, result.height) == size


def test_fill_crops_the_overflow_evenly_from_both_sides() -> None:
    image = Image.new("RGB", (300, 100), "white")
    image.paste((0, 0, 0), (0, 0, 100, 100))  # a black left third that fill must cut away
    image.paste((0, 0, 0), (200, 0, 300, 100))

    pixels = decoded(run(save(image), "resize:50x50,mode=fill").data)

    assert min(pixel(pixels, (0, 25)) + pixel(pixels, (49, 25))) > 200


def test_a_large_jpeg_is_shrunk_on_load_to_the_same_size_as_a_full_decode() -> None:
    jpeg, png = encoded("JPEG", (1600, 900)), encoded("PNG", (1600, 900))

    for spec in ("resize:150x150", "resize:160x120,mode=fill", "thumbnail:99"):
        from_jpeg, from_png = run(jpeg, spec), run(png, spec)
        assert (from_jpeg.width, from_jpeg.height) == (from_png.width, from_png.height)


def test_a_turned_photo_is_shrunk_on_load_along_the_right_sides() -> None:
    photo = save(marked_corner((800, 400)), "JPEG", exif=_orientation(6))

    result = decoded(run(photo, "resize:100").data)

    assert result.size == (100, 200)
    assert looks_black(pixel(result, (95, 3))) and not looks_black(pixel(result, (3, 3)))


def test_a_resize_whose_result_exceeds_the_pixel_limit_fails() -> None:
    with pytest.raises(ProcessingError, match="limit"):
        run(encoded("PNG", (40, 20)), "resize:4000,upscale=true", max_pixels=100_000)


# Other operations


def test_crop_takes_the_region_and_clamps_it_to_the_image() -> None:
    assert decoded(run(encoded("PNG", (40, 20)), "crop:5,5,10,8").data).size == (10, 8)
    assert decoded(run(encoded("PNG", (40, 20)), "crop:30,10,50,50").data).size == (10, 10)


def test_a_crop_outside_the_image_fails() -> None:
    with pytest.raises(ProcessingError, match="outside"):
        run(encoded("PNG", (40, 20)), "crop:100,100,10,10")


def test_grayscale_keeps_alpha_when_there_is_some() -> None:
    assert decoded(run(encoded("PNG", mode="RGB"), "grayscale").data).mode == "L"
    assert decoded(run(encoded("PNG", mode="RGBA"), "grayscale").data).mode == "LA"


@pytest.mark.parametrize("spec", ["blur:3", "sharpen:amount=300,radius=1", "contrast:2"])
def test_filters_change_pixels_but_not_the_size(spec: str) -> None:
    original = encoded("PNG", (40, 20))

    result = decoded(run(original, spec).data)

    assert result.size == (40, 20)
    assert result.tobytes() != decoded(original).tobytes()


def test_brightness_zero_is_black_and_contrast_zero_is_flat_gray() -> None:
    dark = decoded(run(encoded("PNG", (40, 20)), "brightness:0").data)
    flat = decoded(run(encoded("PNG", (40, 20)), "contrast:0").data)

    assert dark.getextrema() == ((0, 0), (0, 0), (0, 0))
    assert len(flat.getcolors() or []) == 1


def test_rotating_a_quarter_turn_is_clockwise_and_swaps_the_sides() -> None:
    result = decoded(run(save(marked_corner((40, 20))), "rotate:90").data)

    assert result.size == (20, 40)
    assert looks_black(pixel(result, (19, 0))) and pixel(result, (0, 0)) == WHITE


def test_rotating_by_any_angle_expands_the_canvas_unless_told_not_to() -> None:
    width, height = decoded(run(encoded("PNG", (40, 40)), "rotate:45").data).size
    assert width == height and 56 <= width <= 58
    assert decoded(run(encoded("PNG", (40, 20)), "rotate:45,expand=false").data).size == (40, 20)


def test_rotated_corners_are_transparent_when_the_image_has_alpha() -> None:
    result = decoded(run(encoded("PNG", (40, 40), "RGBA", (200, 0, 0, 255)), "rotate:45").data)

    assert pixel(result, (0, 0))[3] == 0 and pixel(result, (28, 28))[3] == 255


@pytest.mark.parametrize(("direction", "corner"), [("h", (39, 0)), ("v", (0, 19))])
def test_flip_mirrors_the_image(direction: str, corner: tuple[int, int]) -> None:
    result = decoded(run(save(marked_corner((40, 20))), f"flip:{direction}").data)

    assert looks_black(pixel(result, corner)) and pixel(result, (0, 0)) == WHITE


# Orientation and metadata


def test_exif_orientation_is_applied_first_and_then_dropped() -> None:
    # Orientation 6: the stored pixels must be turned a quarter clockwise to display.
    photo = save(marked_corner((40, 20)), "JPEG", quality=95, exif=_orientation(6))

    result = run(photo, "resize:20")
    shown = decoded(result.data)

    assert (result.width, result.height) == (20, 40)
    assert looks_black(pixel(shown, (18, 1))) and not looks_black(pixel(shown, (1, 1)))
    assert ORIENTATION not in shown.getexif()


def test_metadata_is_stripped_from_the_result() -> None:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    photo = save(marked_corner(), "JPEG", exif=exif.tobytes(), comment=b"secret")

    result = run(photo, "grayscale")

    assert b"CameraMaker" not in result.data and b"secret" not in result.data
    assert len(decoded(result.data).getexif()) == 0


def _orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = value
    return exif.tobytes()


# Output formats


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
    assert result.content_type == f"image/{output}"
    assert decoded(result.data).format == output.upper()


@pytest.mark.parametrize(("spec", "output"), [("format:jpg", "JPEG"), ("format:webp", "WEBP")])
def test_converting_to_a_format_is_honoured(spec: str, output: str) -> None:
    result = run(encoded("PNG"), spec)

    assert decoded(result.data).format == output
    assert result_extension(result.format) in ("jpg", "webp")


def test_transparency_is_flattened_onto_white_for_jpeg() -> None:
    clear = encoded("PNG", (20, 20), "RGBA", (255, 0, 0, 0))

    result = decoded(run(clear, "format:jpeg").data)

    assert result.mode == "RGB" and pixel(result, (10, 10)) == WHITE


@pytest.mark.parametrize(
    ("format", "mode"), [("TIFF", "CMYK"), ("PNG", "I;16"), ("PNG", "P"), ("PNG", "1")]
)
def test_unusual_modes_are_converted_for_jpeg(format: str, mode: str) -> None:
    result = decoded(run(encoded(format, (16, 16), mode), "format:jpeg").data)

    assert result.format == "JPEG" and result.mode in ("RGB", "L")


def test_quality_changes_the_encoded_size() -> None:
    photo = encoded("PNG", (200, 100))

    assert len(run(photo, "format:jpeg,quality=10").data) < len(run(photo, "format:jpeg").data)


def test_result_extensions_follow_the_format() -> None:
    assert [result_extension(f) for f in ("jpeg", "png", "webp", "gif")] == [
        "jpg",
        "png",
        "webp",
        "gif",
    ]


# Guarantees


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


def test_an_image_over_the_pixel_limit_is_not_decoded() -> None:
    with pytest.raises(ProcessingError, match="more than the limit"):
        run(encoded("PNG", (200, 100)), "grayscale", max_pixels=19_999)
