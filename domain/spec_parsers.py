"""One parser per operation name: from checked arguments to an operation value."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, cast, get_args

from domain.operations import (
    DEFAULT_BACKGROUND,
    DEFAULT_QUALITY,
    MAX_DIMENSION,
    WATERMARK_OPACITY,
    WATERMARK_POSITION,
    Blur,
    Brightness,
    Contrast,
    Crop,
    Flip,
    Format,
    Gravity,
    Grayscale,
    Operation,
    OutputFormat,
    Position,
    Resize,
    ResizeMode,
    Rotate,
    Sharpen,
    Thumbnail,
    Watermark,
)
from domain.spec_values import (
    Arguments,
    Rejected,
    boolean,
    choice,
    colour,
    decimal,
    dimension,
    free_text,
    integer,
)

POSITIONS: tuple[str, ...] = get_args(Position)
GRAVITIES: tuple[str, ...] = (*POSITIONS, "smart")
FORMATS: tuple[str, ...] = get_args(OutputFormat)


def _resize(a: Arguments) -> Resize:
    (box,) = a.expect(1, "a size WxH, W or xH")
    match = re.fullmatch(r"([0-9]*)(?:[xX]([0-9]*))?", box)
    if match is None or not (match[1] or match[2]):
        raise Rejected(f"size {box!r} is not WxH, W or xH")
    width = dimension(match[1], "width") if match[1] else None
    height = dimension(match[2], "height") if match[2] else None
    mode = choice(a.option("mode") or "fit", "mode", ("fit", "fill", "force"))
    upscale = boolean(a.option("upscale") or "false", "upscale")
    gravity = a.option("gravity")
    a.done()
    if mode != "fit" and (width is None or height is None):
        raise Rejected(f"mode={mode} needs both a width and a height")
    if gravity is not None and mode != "fill":
        raise Rejected("gravity applies to mode=fill only")
    where = cast(Gravity, choice(gravity or "center", "gravity", GRAVITIES))
    # Force always stretches to the box, so upscale makes no difference there.
    return Resize(width, height, cast(ResizeMode, mode), upscale and mode != "force", where)


def _thumbnail(a: Arguments) -> Thumbnail:
    (size,) = a.expect(1, "one size N")
    a.done()
    return Thumbnail(dimension(size, "size"))


def _crop(a: Arguments) -> Crop:
    x, y, width, height = a.expect(4, "X,Y,W,H")
    a.done()
    return Crop(
        integer(x, "x", 0, MAX_DIMENSION),
        integer(y, "y", 0, MAX_DIMENSION),
        dimension(width, "width"),
        dimension(height, "height"),
    )


def _rotate(a: Arguments) -> Rotate:
    (degrees,) = a.expect(1, "an angle in degrees")
    expand = boolean(a.option("expand") or "true", "expand")
    background = a.option("background")
    a.done()
    angle = round(decimal(degrees, "angle", -36000.0, 36000.0) % 360, 3)
    fill = colour(background, "background") if background else None
    return Rotate(0.0 if angle == 360 else angle, expand, fill)


def _flip(a: Arguments) -> Flip:
    (direction,) = a.expect(1, "h or v")
    a.done()
    return Flip(cast(Literal["h", "v"], choice(direction, "direction", ("h", "v"))))


def _grayscale(a: Arguments) -> Grayscale:
    a.expect(0, "no arguments")
    a.done()
    return Grayscale()


def _blur(a: Arguments) -> Blur:
    (sigma,) = a.expect(1, "one sigma")
    a.done()
    return Blur(decimal(sigma, "sigma", 0.0, 100.0, exclusive_low=True))


def _sharpen(a: Arguments) -> Sharpen:
    a.expect(0, "only options amount=, radius=, threshold=")
    amount, radius, threshold = a.option("amount"), a.option("radius"), a.option("threshold")
    a.done()
    return Sharpen(
        integer(amount, "amount", 1, 500) if amount else 150,
        decimal(radius, "radius", 0.0, 100.0, exclusive_low=True) if radius else 2.0,
        integer(threshold, "threshold", 0, 255) if threshold else 3,
    )


def _brightness(a: Arguments) -> Brightness:
    (factor,) = a.expect(1, "one factor")
    a.done()
    return Brightness(decimal(factor, "factor", 0.0, 10.0))


def _contrast(a: Arguments) -> Contrast:
    (factor,) = a.expect(1, "one factor")
    a.done()
    return Contrast(decimal(factor, "factor", 0.0, 10.0))


def _watermark(a: Arguments) -> Watermark:
    (text,) = a.expect(1, "the text (with %2C for a comma)")
    position = choice(a.option("position") or WATERMARK_POSITION, "position", POSITIONS)
    opacity = a.option("opacity")
    size = a.option("size")
    a.done()
    return Watermark(
        free_text(text, "text"),
        cast(Position, position),
        decimal(opacity, "opacity", 0.0, 1.0, exclusive_low=True) if opacity else WATERMARK_OPACITY,
        integer(size, "size", 4, 1000) if size else None,
    )


def _format(a: Arguments) -> Format:
    (name,) = a.expect(1, ", ".join(FORMATS))
    name = "jpeg" if name.lower() == "jpg" else name
    output = cast(OutputFormat, choice(name, "format", FORMATS))
    quality, background = a.option("quality"), a.option("background")
    progressive = boolean(a.option("progressive") or "false", "progressive")
    lossless = boolean(a.option("lossless") or "false", "lossless")
    strip = boolean(a.option("strip") or "true", "strip")
    a.done()
    _only_for(output, "progressive", progressive, "jpeg")
    _only_for(output, "lossless", lossless, "webp")
    _only_for(output, "background", background is not None, "jpeg")
    default = None if lossless else DEFAULT_QUALITY.get(output)
    if quality is not None and default is None:
        raise Rejected(f"quality applies to lossy jpeg, webp and avif, not {output}")
    return Format(
        output,
        integer(quality, "quality", 1, 100) if quality else default,
        progressive,
        lossless,
        strip,
        colour(background, "background") if background else DEFAULT_BACKGROUND,
    )


def _only_for(output: str, option: str, given: bool, applies_to: str) -> None:
    if given and output != applies_to:
        raise Rejected(f"{option} applies to {applies_to}, not {output}")


PARSERS: dict[str, Callable[[Arguments], Operation]] = {
    "resize": _resize,
    "thumbnail": _thumbnail,
    "crop": _crop,
    "rotate": _rotate,
    "flip": _flip,
    "grayscale": _grayscale,
    "blur": _blur,
    "sharpen": _sharpen,
    "brightness": _brightness,
    "contrast": _contrast,
    "watermark": _watermark,
    "format": _format,
}
