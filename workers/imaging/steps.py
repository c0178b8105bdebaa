"""One step of a plan applied to one picture."""

from __future__ import annotations

from PIL import Image

from domain import operations as ops
from workers.imaging import adjust, geometry
from workers.imaging.limits import Limits, ProcessingError
from workers.imaging.sizes import Size
from workers.imaging.watermark import watermark

# What a step decided on the first frame and keeps for the others (the smart crop window).
Memo = dict[str, tuple[float, float]]


def apply(
    step: ops.Operation, image: Image.Image, nominal: Size, limits: Limits, memo: Memo
) -> Image.Image:
    """Run one step; a resize is sized as if the image were `nominal` (see shrink-on-load)."""
    match step:
        case ops.Resize() | ops.Thumbnail():
            return geometry.resize(image, step, nominal, limits, memo)
        case ops.Crop(x=x, y=y, width=width, height=height):
            return geometry.crop(image, x, y, width, height)
        case ops.Rotate():
            return geometry.rotate(image, step, limits)
        case ops.Flip():
            return geometry.flip(image, step)
        case ops.Grayscale():
            return adjust.grayscale(image)
        case ops.Blur(sigma=sigma):
            return adjust.blur(image, sigma)
        case ops.Sharpen(amount=amount, radius=radius, threshold=threshold):
            return adjust.sharpen(image, amount, radius, threshold)
        case ops.Brightness(factor=factor):
            return adjust.brightness(image, factor)
        case ops.Contrast(factor=factor):
            return adjust.contrast(image, factor)
        case ops.Watermark():
            return watermark(image, step)
        case ops.Format():
            return image
    raise ProcessingError(f"unsupported operation {step!r}")
