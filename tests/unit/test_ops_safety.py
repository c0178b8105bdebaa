"""Safety: limits read before decoding, bounded results, a time limit, an allow-list of
formats, and failures that are always a ProcessingError with a reason."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.corpus import animated
from tests.unit.images import encoded, png_header, run
from workers.imaging import ProcessingError


def test_a_decompression_bomb_is_refused_from_its_header_before_any_decoding() -> None:
    started = time.perf_counter()

    with pytest.raises(ProcessingError, match="than the limit"):
        run(png_header(60_000, 60_000), "resize:10", max_pixels=50_000_000)

    assert time.perf_counter() - started < 0.5


def test_an_image_over_the_pixel_limit_is_not_decoded() -> None:
    with pytest.raises(ProcessingError, match="more than the limit"):
        run(encoded("PNG", (200, 100)), "grayscale", max_pixels=19_999)


def test_an_animation_is_limited_by_the_pixels_of_all_its_frames() -> None:
    three_frames_of_800 = animated("GIF", size=(40, 20))

    with pytest.raises(ProcessingError, match="3 frames"):
        run(three_frames_of_800, "resize:20", max_pixels=2000)


@pytest.mark.parametrize(
    "spec",
    ["resize:5000,upscale=true", "resize:5000x10,mode=force", "rotate:45|rotate:45|rotate:45"],
)
def test_a_result_over_the_side_limit_fails(spec: str) -> None:
    with pytest.raises(ProcessingError, match="pixels a side"):
        run(encoded("PNG", (40, 20)), spec, max_dimension=50)


def test_a_result_over_the_pixel_limit_fails() -> None:
    with pytest.raises(ProcessingError, match="limit"):
        run(encoded("PNG", (40, 20)), "resize:4000,upscale=true", max_pixels=100_000)


def test_a_result_over_the_pixel_limit_fails_across_animation_frames() -> None:
    with pytest.raises(ProcessingError, match="animation's result"):
        run(animated("GIF", size=(40, 20)), "resize:80,upscale=true", max_pixels=8000)


def test_a_job_past_its_time_limit_stops_between_steps() -> None:
    with pytest.raises(ProcessingError, match="longer than 0 s"):
        run(encoded("PNG", (40, 20)), "grayscale|blur:2", time_limit=0)


def test_a_job_within_its_time_limit_completes() -> None:
    assert run(encoded("PNG", (40, 20)), "grayscale|blur:2", time_limit=30).picture.width == 40


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not an image at all", "not an image"),
        (encoded("ICO", (16, 16)), "not an image"),
        (encoded("PPM", (8, 8)), "not an image"),
        (encoded("PCX", (8, 8)), "not an image"),
        (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "not an image"),
        (png_header(50, 50), "cannot be processed"),
    ],
    ids=["text", "ico", "ppm", "pcx", "pdf", "no-pixel-data"],
)
def test_anything_but_an_allowed_format_fails_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ProcessingError, match=reason):
        run(data, "resize:10")


_SOURCES = [encoded("JPEG", (24, 16)), encoded("PNG", (24, 16), "RGBA"), animated("GIF")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_SOURCES),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_a_damaged_file_either_renders_or_fails_with_a_processing_error(
    original: bytes, damage: list[tuple[int, int]]
) -> None:
    data = bytearray(original)
    for offset, value in damage:
        data[offset % len(data)] = value

    try:
        result = run(bytes(data), "resize:12|format:png")
    except ProcessingError as error:
        assert error.reason and "\n" not in error.reason
    else:
        assert result.picture.width <= 12
