"""Operations that change colours and detail: grayscale, blur, sharpen, brightness, contrast."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.unit.images import decoded, encoded, mean_difference, pixel, run, save


def edge(size: tuple[int, int] = (40, 20)) -> bytes:
    """Black on the left half, white on the right: one sharp vertical edge."""
    image = Image.new("L", size, 0)
    image.paste(255, (size[0] // 2, 0, size[0], size[1]))
    return save(image)


def test_grayscale_gives_the_luminance_and_keeps_alpha_when_there_is_some() -> None:
    red = decoded(run(encoded("PNG", (8, 8), "RGB", (255, 0, 0)), "grayscale").data)
    clear = decoded(run(encoded("PNG", (8, 8), "RGBA", (0, 255, 0, 100)), "grayscale").data)

    assert red.mode == "L" and abs(pixel(red, (4, 4))[0] - 76) <= 1
    assert clear.mode == "LA" and pixel(clear, (4, 4))[1] == 100


@pytest.mark.parametrize("spec", ["blur:3", "sharpen:amount=300,radius=1", "contrast:2"])
def test_filters_change_pixels_but_not_the_size(spec: str) -> None:
    original = encoded("PNG", (40, 20))

    result = decoded(run(original, spec).data)

    assert result.size == (40, 20)
    assert result.tobytes() != decoded(original).tobytes()


def test_blur_softens_an_edge_more_as_sigma_grows() -> None:
    slight = decoded(run(edge(), "blur:0.5").data)
    strong = decoded(run(edge(), "blur:4").data)

    def just_left_of_edge(image: Image.Image) -> int:
        return pixel(image, (17, 10))[0]

    assert 0 <= just_left_of_edge(slight) < just_left_of_edge(strong) < 128


def test_blurring_transparency_does_not_bleed_the_hidden_colour() -> None:
    image = Image.new("RGBA", (40, 20), (255, 0, 0, 0))  # invisible red
    image.paste((0, 0, 255, 255), (20, 0, 40, 20))

    result = decoded(run(save(image), "blur:3").data)

    red, _, blue, alpha = pixel(result, (19, 10))
    assert 0 < alpha < 255 and red < 10 and blue > 200


def test_sharpen_deepens_the_contrast_along_an_edge() -> None:
    soft = save(decoded(run(edge(), "blur:1").data))

    sharp = decoded(run(soft, "sharpen:amount=300,radius=2,threshold=0").data)
    untouched = decoded(run(soft, "sharpen:amount=300,radius=2,threshold=255").data)

    assert pixel(sharp, (18, 10))[0] < pixel(decoded(soft), (18, 10))[0]
    assert pixel(sharp, (21, 10))[0] > pixel(decoded(soft), (21, 10))[0]
    assert untouched.tobytes() == decoded(soft).tobytes()  # no difference clears the threshold


@pytest.mark.parametrize(("factor", "expected"), [(0, 0), (0.5, 100), (1, 200), (2, 255)])
def test_brightness_scales_every_colour_sample(factor: float, expected: int) -> None:
    image = encoded("PNG", (8, 8), "RGBA", (200, 200, 200, 90))

    result = decoded(run(image, f"brightness:{factor}").data)

    assert pixel(result, (4, 4)) == (expected, expected, expected, 90)


def test_contrast_zero_is_flat_mean_gray_and_more_contrast_spreads_values() -> None:
    flat = decoded(run(edge(), "contrast:0").data)
    stronger = decoded(run(save(Image.new("L", (8, 8), 100)), "contrast:2").data)
    ramp = save(Image.merge("L", [Image.linear_gradient("L").resize((32, 32))]))

    assert flat.getcolors() == [(800, 128)]
    assert pixel(stronger, (0, 0)) == (100,)  # one gray: the mean itself does not move
    spread = decoded(run(ramp, "contrast:1.5").data)
    assert spread.getextrema() == (0, 255) and mean_difference(spread, decoded(ramp)) > 10


def test_brightness_zero_is_black_on_a_colour_image() -> None:
    dark = decoded(run(encoded("PNG", (40, 20)), "brightness:0").data)

    assert dark.getextrema() == ((0, 0), (0, 0), (0, 0))
