"""One step of a plan applied to one picture."""

from __future__ import annotations

from PIL import Image

from domain.spec import (
    Blur,
    Brightness,
    Contrast,
    Crop,
    Flip,
    Format,
    Grayscale,
    Operation,
    Resize,
    Rotate,
    Sharpen,
    Thumbnail,
    Watermark,
)
from workers.imaging import adjust, geometry
from workers.imaging.limits import Limits, ProcessingError
from workers.imaging.sizes import Size
from workers.imaging.watermark import watermark

# What a step decided on the first frame and keeps for the others (the smart crop window).
Memo = dict[str, tuple[float, float]]


def apply(
    step: Operation, image: Image.Image, nominal: Size, limits: Limits, memo: Memo
) -> Image.Image:
    """Run one step; a resize is sized as if the image were `nominal` (see shrink-on-load)."""
    match step:
        case Resize() | Thumbnail():
            return geometry.resize(image, step, nominal, limits, memo)
        case Crop(x=x, y=y, width=width, height=height):
            return geometry.crop(image, x, y, width, height)
        case Rotate():
            return geometry.rotate(image, step, limits)
        case Flip():
            return geometry.flip(image, step)
        case Grayscale():
            return adjust.grayscale(image)
        case Blur(sigma=sigma):
            return adjust.blur(image, sigma)
        case Sharpen(amount=amount, radius=radius, threshold=threshold):
            return adjust.sharpen(image, amount, radius, threshold)
        case Brightness(factor=factor):
            return adjust.brightness(image, factor)
        case Contrast(factor=factor):
            return adjust.contrast(image, factor)
        case Watermark():
            return watermark(image, step)
        case Format():
            return image
    raise ProcessingError(f"unsupported operation {step!r}")
