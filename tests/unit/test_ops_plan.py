"""The plan: orientation becomes steps, and a shrinking resize runs as early as it may,
turned to match, without changing the picture."""

from __future__ import annotations

import pytest

from domain.operations import Crop, Flip, Grayscale, Resize, Rotate, Thumbnail
from domain.spec import parse_spec
from tests.unit.images import decoded, encoded, marked_corner, mean_difference, run, save
from workers.imaging.plan import plan

WIDE = (400, 200)


def planned(spec: str, orientation: int = 1, size: tuple[int, int] = WIDE) -> list[object]:
    return list(plan(parse_spec(spec).operations, orientation, size))


def test_orientation_becomes_the_first_steps() -> None:
    assert planned("blur:1", orientation=6)[0] == Rotate(90)
    assert planned("blur:1", orientation=5)[:2] == [Rotate(90), Flip("h")]
    assert planned("blur:1", orientation=1)[0] != Rotate(90)


def test_a_shrink_moves_ahead_of_orientation_with_its_sides_swapped() -> None:
    assert planned("resize:100", orientation=6) == [Resize(None, 100), Rotate(90)]


def test_a_shrink_moves_ahead_of_flips_quarter_turns_and_grayscale() -> None:
    steps = planned("grayscale|flip:h|rotate:90|resize:50x80,mode=fill,gravity=north")

    assert steps == [
        Resize(80, 50, "fill", gravity="east"),  # north after a clockwise turn was east before
        Grayscale(),
        Flip("h"),
        Rotate(90),
    ]


def test_thumbnail_moves_unchanged() -> None:
    assert planned("rotate:270|thumbnail:64") == [Thumbnail(64), Rotate(270)]


@pytest.mark.parametrize(
    "spec",
    [
        "crop:0,0,300,100|resize:50",
        "blur:2|resize:50",
        "watermark:x|resize:50",
        "rotate:30|resize:50",
    ],
)
def test_a_shrink_keeps_its_place_after_steps_that_depend_on_scale(spec: str) -> None:
    assert planned(spec)[-1] == Resize(50, None)


def test_an_enlarging_resize_keeps_its_place() -> None:
    assert planned("grayscale|resize:800,upscale=true") == [
        Grayscale(),
        Resize(800, None, upscale=True),
    ]


def test_formats_and_null_rotations_are_not_steps() -> None:
    assert planned("rotate:0|crop:0,0,5,5|format:png") == [Crop(0, 0, 5, 5)]


@pytest.mark.parametrize(
    "spec",
    [
        "rotate:90|resize:60x100,mode=fill,gravity=north",
        "flip:h|resize:100x100,mode=fill,gravity=west",
        "rotate:180|flip:v|resize:50x50,mode=fill,gravity=southeast",
        "rotate:270|grayscale|resize:x50",
        "flip:v|thumbnail:64",
    ],
)
def test_moving_a_shrink_gives_the_picture_of_the_steps_in_written_order(spec: str) -> None:
    image = marked_corner((300, 180))
    image.paste((200, 30, 30), (200, 100, 290, 170))
    source = save(image)
    *before, shrink = spec.split("|")

    planned_result = decoded(run(source, f"{spec}|format:png").data)
    step_by_step = decoded(run(source, "|".join([*before, "format:png"])).data)
    step_by_step = decoded(run(save(step_by_step), f"{shrink}|format:png").data)

    assert planned_result.size == step_by_step.size
    assert mean_difference(planned_result, step_by_step) < 1.5


def test_grayscale_first_decodes_a_jpeg_as_luminance_with_the_same_result() -> None:
    photo = encoded("JPEG", (320, 240))
    as_png = save(decoded(photo))

    from_jpeg = decoded(run(photo, "grayscale|blur:1|format:png").data)
    from_png = decoded(run(as_png, "grayscale|blur:1|format:png").data)

    assert from_jpeg.mode == from_png.mode == "L"
    assert mean_difference(from_jpeg, from_png) < 1.5


def test_the_reported_peak_counts_only_the_shrunk_decode_for_a_shrink_on_load() -> None:
    photo = encoded("JPEG", (1600, 1200))

    shrunk = run(photo, "resize:100")
    full = run(photo, "rotate:30,expand=false|resize:100")

    assert shrunk.peak_bytes < 1600 * 1200 and full.peak_bytes >= 2 * 1600 * 1200 * 4
    assert decoded(shrunk.data).size == (100, 75)
