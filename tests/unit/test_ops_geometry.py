"""Operations that move pixels: resize in every mode, fill gravity, crop, rotate, flip."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.unit.corpus import detailed_patch
from tests.unit.images import (
    ORIENTATION,
    WHITE,
    decoded,
    encoded,
    looks_black,
    marked_corner,
    pixel,
    run,
    save,
)
from workers.imaging import ProcessingError

# Resizing


@pytest.mark.parametrize("format", ["JPEG", "PNG"])
def test_resizing_a_wide_image_into_a_square_box_keeps_its_aspect(format: str) -> None:
    result = run(encoded(format, (400, 200)), "resize:100x100")

    assert (result.picture.width, result.picture.height) == (100, 50)
    assert decoded(result.data).size == (100, 50)


@pytest.mark.parametrize(
    ("spec", "size"),
    [
        ("resize:100", (100, 50)),
        ("resize:x50", (100, 50)),
        ("resize:1000x1000", (400, 200)),
        ("resize:1000,upscale=true", (1000, 500)),
        ("resize:100x100,mode=fill", (100, 100)),
        ("resize:100x100,mode=fill,gravity=smart", (100, 100)),
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

    assert (result.picture.width, result.picture.height) == size
    assert decoded(result.data).size == size


def test_fill_crops_the_overflow_evenly_from_both_sides() -> None:
    image = Image.new("RGB", (300, 100), "white")
    image.paste((0, 0, 0), (0, 0, 100, 100))  # black thirds left and right that fill must cut
    image.paste((0, 0, 0), (200, 0, 300, 100))

    pixels = decoded(run(save(image), "resize:50x50,mode=fill").data)

    assert min(pixel(pixels, (0, 25)) + pixel(pixels, (49, 25))) > 200


@pytest.mark.parametrize(
    ("gravity", "black_at_left", "black_at_right"),
    [("west", True, True), ("east", False, False), ("center", False, False)],
)
def test_fill_keeps_the_side_its_gravity_names(
    gravity: str, black_at_left: bool, black_at_right: bool
) -> None:
    image = Image.new("RGB", (300, 100), "white")
    image.paste((0, 0, 0), (0, 0, 100, 100))  # the left third is black

    result = decoded(run(save(image), f"resize:50x50,mode=fill,gravity={gravity}").data)

    assert looks_black(pixel(result, (2, 25))) is black_at_left
    assert looks_black(pixel(result, (47, 25))) is black_at_right


@pytest.mark.parametrize(("gravity", "row"), [("north", 2), ("south", 47)])
def test_fill_gravity_works_along_the_height_too(gravity: str, row: int) -> None:
    image = Image.new("RGB", (100, 300), "white")
    image.paste((0, 0, 0), (0, 0, 100, 100))  # the top third is black

    result = decoded(run(save(image), f"resize:50x50,mode=fill,gravity={gravity}").data)

    assert looks_black(pixel(result, (25, row))) is (gravity == "north")


@pytest.mark.parametrize(("patch_at", "edge"), [((20, 20), "left"), ((330, 30), "right")])
def test_smart_fill_keeps_the_most_detailed_part(patch_at: tuple[int, int], edge: str) -> None:
    image = detailed_patch((400, 100), patch_at, 40)

    result = decoded(run(save(image), "resize:100x100,mode=fill,gravity=smart|format:png").data)
    centred = decoded(run(save(image), "resize:100x100,mode=fill|format:png").data)

    detail = _spread(
        result.crop((0, 0, 50, 100)) if edge == "left" else result.crop((50, 0, 100, 100))
    )
    assert detail > 60
    assert _spread(centred) < 5  # the centre of the picture is flat gray


def test_a_large_jpeg_is_shrunk_on_load_to_the_same_size_as_a_full_decode() -> None:
    jpeg, png = encoded("JPEG", (1600, 900)), encoded("PNG", (1600, 900))

    for spec in ("resize:150x150", "resize:160x120,mode=fill", "thumbnail:99", "resize:x77"):
        from_jpeg, from_png = run(jpeg, spec).picture, run(png, spec).picture
        assert (from_jpeg.width, from_jpeg.height) == (from_png.width, from_png.height)


@pytest.mark.parametrize("size", [(1601, 901), (2401, 1605), (803, 1605)])
@pytest.mark.parametrize("gravity", ["center", "southeast", "northwest", "smart"])
def test_fill_on_a_jpeg_with_odd_sides_shrunk_on_load(size: tuple[int, int], gravity: str) -> None:
    # The scaled decode rounds each side up by its own amount; the kept region must follow.
    result = run(encoded("JPEG", size), f"resize:40x150,mode=fill,gravity={gravity}")

    assert (result.picture.width, result.picture.height) == (40, 150)


def test_a_turned_photo_is_shrunk_on_load_along_the_right_sides() -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    photo = save(marked_corner((800, 400)), "JPEG", exif=exif.tobytes())

    result = decoded(run(photo, "resize:100").data)

    assert result.size == (100, 200)
    assert looks_black(pixel(result, (95, 3))) and not looks_black(pixel(result, (3, 3)))


def test_resizing_keeps_transparent_pixels_from_bleeding_their_colour() -> None:
    image = Image.new("RGBA", (40, 40), (255, 0, 0, 0))  # invisible red
    image.paste((0, 0, 255, 255), (20, 0, 40, 40))  # opaque blue on the right

    result = decoded(run(save(image), "resize:10").data)

    red, _, blue, alpha = pixel(result, (5, 5))
    assert alpha > 0 and blue > red


# Crop


def test_crop_takes_the_region_and_clamps_it_to_the_image() -> None:
    assert decoded(run(encoded("PNG", (40, 20)), "crop:5,5,10,8").data).size == (10, 8)
    assert decoded(run(encoded("PNG", (40, 20)), "crop:30,10,50,50").data).size == (10, 10)


def test_crop_keeps_the_pixels_of_the_region() -> None:
    result = decoded(run(save(marked_corner((40, 20))), "crop:0,0,10,5|format:png").data)

    assert looks_black(pixel(result, (9, 4)))


def test_a_crop_outside_the_image_fails() -> None:
    with pytest.raises(ProcessingError, match="outside"):
        run(encoded("PNG", (40, 20)), "crop:100,100,10,10")


# Rotate and flip


@pytest.mark.parametrize(
    ("degrees", "size", "corner"),
    [(90, (20, 40), (19, 0)), (180, (40, 20), (39, 19)), (270, (20, 40), (0, 39))],
)
def test_quarter_turns_are_clockwise_and_exact(
    degrees: int, size: tuple[int, int], corner: tuple[int, int]
) -> None:
    result = decoded(run(save(marked_corner((40, 20))), f"rotate:{degrees}|format:png").data)

    assert result.size == size
    assert (
        looks_black(pixel(result, corner)) and pixel(result, (size[0] // 2, size[1] // 2)) == WHITE
    )


def test_rotating_by_any_angle_expands_the_canvas_unless_told_not_to() -> None:
    width, height = decoded(run(encoded("PNG", (40, 40)), "rotate:45").data).size
    assert width == height and 56 <= width <= 58
    assert decoded(run(encoded("PNG", (40, 20)), "rotate:45,expand=false").data).size == (40, 20)


def test_rotated_corners_are_transparent_when_the_image_has_alpha() -> None:
    result = decoded(run(encoded("PNG", (40, 40), "RGBA", (200, 0, 0, 255)), "rotate:45").data)

    assert pixel(result, (0, 0))[3] == 0 and pixel(result, (28, 28))[3] == 255


def test_rotated_corners_take_the_background_colour() -> None:
    gray = encoded("PNG", (40, 40), "RGB", (128, 128, 128))

    painted = decoded(run(gray, "rotate:30,background=ff0000").data)
    clear = decoded(run(gray, "rotate:30,background=00000000").data)

    assert painted.mode == "RGB" and pixel(painted, (1, 1)) == (255, 0, 0)
    assert clear.mode == "RGBA" and pixel(clear, (1, 1))[3] == 0
    assert pixel(clear, (clear.width // 2, clear.height // 2)) == (128, 128, 128, 255)


@pytest.mark.parametrize(("direction", "corner"), [("h", (39, 0)), ("v", (0, 19))])
def test_flip_mirrors_the_image(direction: str, corner: tuple[int, int]) -> None:
    result = decoded(run(save(marked_corner((40, 20))), f"flip:{direction}").data)

    assert looks_black(pixel(result, corner)) and pixel(result, (0, 0)) == WHITE


def _spread(image: Image.Image) -> int:
    low, high = image.convert("L").getextrema()
    assert isinstance(low, int) and isinstance(high, int)
    return high - low
