"""Operations that move pixels: resize (fit, fill, force, thumbnail), crop, rotate, flip."""

from __future__ import annotations

from PIL import Image

from domain.operations import Flip, Resize, Rotate, Thumbnail
from workers.imaging import focus
from workers.imaging.limits import Limits, ProcessingError
from workers.imaging.paint import fill_colour, premultiplied
from workers.imaging.sizes import Size, cover, fill_target, resampled, rotated_size

# Past this ratio Pillow first reduces by a whole factor (fast), then resamples the rest.
REDUCING_GAP = 3.0
_FLIPS = {"h": Image.Transpose.FLIP_LEFT_RIGHT, "v": Image.Transpose.FLIP_TOP_BOTTOM}
# Clockwise turns as Pillow's (counter-clockwise) transpositions.
_QUARTER_TURNS = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def resize(
    image: Image.Image,
    operation: Resize | Thumbnail,
    nominal: Size,
    limits: Limits,
    memo: dict[str, tuple[float, float]],
) -> Image.Image:
    """Resize as if `image` were `nominal` in size (it is smaller after shrink-on-load)."""
    if isinstance(operation, Resize) and operation.mode == "fill":
        assert operation.width is not None and operation.height is not None
        target = fill_target(nominal, (operation.width, operation.height), operation.upscale)
        limits.check_result(target)
        if operation.gravity == "smart":
            return _smart_fill(image, cover(nominal, target), target, memo)
        return _fill(image, nominal, target, focus.gravity_offset(operation.gravity))
    size = resampled(operation, nominal)
    limits.check_result(size)
    return resample(image, size)


def resample(
    image: Image.Image, size: Size, region: tuple[float, float, float, float] | None = None
) -> Image.Image:
    if size == image.size and region is None:
        return image
    # Premultiplied here rather than by Pillow, which would drop reducing_gap for alpha.
    return premultiplied(
        image,
        lambda im: im.resize(size, Image.Resampling.LANCZOS, box=region, reducing_gap=REDUCING_GAP),
    )


def crop(image: Image.Image, x: int, y: int, width: int, height: int) -> Image.Image:
    right, bottom = min(x + width, image.width), min(y + height, image.height)
    if x >= right or y >= bottom:
        raise ProcessingError(
            f"the crop region lies outside the {image.width}x{image.height} image"
        )
    return image.crop((x, y, right, bottom))


def rotate(image: Image.Image, operation: Rotate, limits: Limits) -> Image.Image:
    angle, expand = operation.degrees, operation.expand
    if angle == 0:
        return image
    if angle in _QUARTER_TURNS and (expand or angle == 180 or image.width == image.height):
        return image.transpose(_QUARTER_TURNS[int(angle)])
    limits.check_result(rotated_size(image.size, angle, expand))
    image, colour = fill_colour(image, operation.background)
    # Pillow turns counter-clockwise; our angles are clockwise. Like resize, it
    # premultiplies alpha itself.
    return image.rotate(-angle, Image.Resampling.BICUBIC, expand=expand, fillcolor=colour)


def flip(image: Image.Image, operation: Flip) -> Image.Image:
    return image.transpose(_FLIPS[operation.direction])


def _fill(
    image: Image.Image, nominal: Size, target: Size, offset: tuple[float, float]
) -> Image.Image:
    """Resample only the part of the image that the box keeps."""
    scale = max(target[0] / nominal[0], target[1] / nominal[1])
    # The kept region in the image's own pixels: after shrink-on-load each side is scaled
    # by its own ratio, since the decoder rounds each side up.
    width = min(image.width, target[0] / scale * image.width / nominal[0])
    height = min(image.height, target[1] / scale * image.height / nominal[1])
    left = (image.width - width) * offset[0]
    top = (image.height - height) * offset[1]
    return resample(image, target, (left, top, left + width, top + height))


def _smart_fill(
    image: Image.Image, covering: Size, target: Size, memo: dict[str, tuple[float, float]]
) -> Image.Image:
    """Resample to cover the box, then keep the window with the most detail.

    The window chosen for the first frame of an animation is kept for the others.
    """
    covered = resample(image, covering)
    if "smart" not in memo:
        memo["smart"] = focus.most_detail(covered, target)
    offset = memo["smart"]
    left = round((covered.width - target[0]) * offset[0])
    top = round((covered.height - target[1]) * offset[1])
    return covered.crop((left, top, left + target[0], top + target[1]))
