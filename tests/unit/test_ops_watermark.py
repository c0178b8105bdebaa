"""Watermark: text in a corner (or anywhere on the compass), at an opacity, on any mode."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops

from tests.unit.images import decoded, encoded, run, save

GRAY = (90, 90, 90)


def changed_box(spec: str, size: tuple[int, int] = (200, 100)) -> tuple[int, int, int, int]:
    """Where the watermark changed the picture."""
    plain = Image.new("RGB", size, GRAY)
    marked = decoded(run(save(plain), f"{spec}|format:png").data)
    box = ImageChops.difference(marked, plain).getbbox()
    assert box is not None, "the watermark left no mark"
    return box


def test_the_default_watermark_sits_in_the_bottom_right_corner() -> None:
    left, top, right, bottom = changed_box("watermark:Example")

    assert left > 100 and top > 50 and right <= 200 and bottom <= 100


@pytest.mark.parametrize(
    ("position", "where"),
    [
        ("northwest", lambda box: box[0] < 20 and box[1] < 20),
        ("north", lambda box: 50 < (box[0] + box[2]) / 2 < 150 and box[1] < 20),
        ("center", lambda box: 80 < (box[0] + box[2]) / 2 < 120 and 30 < box[1] < 50),
        ("southwest", lambda box: box[0] < 20 and box[3] > 80),
        ("east", lambda box: box[2] > 180 and 30 < box[1] < 50),
    ],
)
def test_the_position_places_the_text(position: str, where: object) -> None:
    box = changed_box(f"watermark:Example,position={position}")

    assert callable(where) and where(box), box


def test_a_larger_size_covers_more_of_the_picture() -> None:
    small, large = changed_box("watermark:Hi,size=10"), changed_box("watermark:Hi,size=30")

    assert (large[3] - large[1]) > 2 * (small[3] - small[1])


def test_opacity_sets_how_strongly_the_text_shows() -> None:
    plain = save(Image.new("RGB", (120, 60), GRAY))

    def strongest_change(opacity: float) -> int:
        marked = decoded(run(plain, f"watermark:Hi,size=30,opacity={opacity}|format:png").data)
        extrema = ImageChops.difference(marked, decoded(plain)).getextrema()
        return max(high for _, high in extrema)  # type: ignore[misc]

    assert 0 < strongest_change(0.2) < strongest_change(0.6) < strongest_change(1)


def test_long_text_shrinks_to_fit_the_width() -> None:
    left, _, right, _ = changed_box("watermark:" + "A long caption that would not fit " * 2)

    assert left >= 0 and right <= 200


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_the_watermark_keeps_the_image_mode(mode: str) -> None:
    result = decoded(run(encoded("PNG", (80, 40), mode), "watermark:Mark").data)

    assert result.mode == mode and result.size == (80, 40)


def test_a_tiny_image_still_gets_a_watermark_without_failing() -> None:
    result = run(encoded("PNG", (3, 2)), "watermark:Copyright 2024")

    assert (result.picture.width, result.picture.height) == (3, 2)


def test_text_with_escaped_commas_is_drawn_as_written() -> None:
    with_comma = changed_box("watermark:a%2Cb,size=20")
    without = changed_box("watermark:ab,size=20")

    assert with_comma[2] - with_comma[0] > without[2] - without[0]
