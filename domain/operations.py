"""The operations of a processing spec, as values, each able to write its canonical text.

Canonical text leaves out options equal to their default, writes numbers in their
shortest form and colours as lower-case hex, so that equal operations read the same.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

from domain.spec_text import escape_text, number
from domain.spec_text import operation_text as _op

MAX_DIMENSION = 16384
DEFAULT_QUALITY = {"jpeg": 85, "webp": 80, "avif": 60}
DEFAULT_BACKGROUND = "ffffff"
WATERMARK_OPACITY = 0.5

ResizeMode = Literal["fit", "fill", "force"]
Position = Literal[
    "center", "north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest"
]
Gravity = Literal[Position, "smart"]
OutputFormat = Literal["jpeg", "png", "webp", "gif", "avif"]
WATERMARK_POSITION: Position = "southeast"


class Resize(msgspec.Struct, frozen=True, tag="resize"):
    width: int | None
    height: int | None
    mode: ResizeMode = "fit"
    upscale: bool = False
    gravity: Gravity = "center"  # which part of the image fill keeps

    def text(self) -> str:
        box = f"{self.width or ''}x{self.height or ''}".removesuffix("x")
        return _op(
            "resize",
            box,
            mode=(self.mode, "fit"),
            upscale=(self.upscale, False),
            gravity=(self.gravity, "center"),
        )


class Thumbnail(msgspec.Struct, frozen=True, tag="thumbnail"):
    size: int

    def text(self) -> str:
        return _op("thumbnail", str(self.size))


class Crop(msgspec.Struct, frozen=True, tag="crop"):
    x: int
    y: int
    width: int
    height: int

    def text(self) -> str:
        return _op("crop", f"{self.x},{self.y},{self.width},{self.height}")


class Rotate(msgspec.Struct, frozen=True, tag="rotate"):
    degrees: float  # clockwise, in [0, 360)
    expand: bool = True
    background: str | None = None  # hex; None: transparent with alpha, else black

    def text(self) -> str:
        return _op(
            "rotate",
            number(self.degrees),
            expand=(self.expand, True),
            background=(self.background, None),
        )


class Flip(msgspec.Struct, frozen=True, tag="flip"):
    direction: Literal["h", "v"]

    def text(self) -> str:
        return _op("flip", self.direction)


class Grayscale(msgspec.Struct, frozen=True, tag="grayscale"):
    def text(self) -> str:
        return "grayscale"


class Blur(msgspec.Struct, frozen=True, tag="blur"):
    sigma: float

    def text(self) -> str:
        return _op("blur", number(self.sigma))


class Sharpen(msgspec.Struct, frozen=True, tag="sharpen"):
    amount: int = 150
    radius: float = 2.0
    threshold: int = 3

    def text(self) -> str:
        return _op(
            "sharpen",
            "",
            amount=(self.amount, 150),
            radius=(self.radius, 2.0),
            threshold=(self.threshold, 3),
        )


class _Enhancement(msgspec.Struct, frozen=True):
    factor: float  # 1 leaves the image as it is

    def text(self) -> str:
        return _op(str(self.__struct_config__.tag), number(self.factor))


class Brightness(_Enhancement, frozen=True, tag="brightness"):
    pass


class Contrast(_Enhancement, frozen=True, tag="contrast"):
    pass


class Watermark(msgspec.Struct, frozen=True, tag="watermark"):
    label: str
    position: Position = WATERMARK_POSITION
    opacity: float = WATERMARK_OPACITY
    size: int | None = None  # text height in pixels; None scales with the image

    def text(self) -> str:
        return _op(
            "watermark",
            escape_text(self.label),
            position=(self.position, WATERMARK_POSITION),
            opacity=(self.opacity, WATERMARK_OPACITY),
            size=(self.size, None),
        )


class Format(msgspec.Struct, frozen=True, tag="format"):
    format: OutputFormat
    quality: int | None = None  # lossy jpeg, webp and avif only
    progressive: bool = False  # jpeg only
    lossless: bool = False  # webp only
    strip: bool = True  # drop metadata and convert colours to sRGB
    background: str = DEFAULT_BACKGROUND  # what transparency is laid on when the format has none

    def text(self) -> str:
        return _op(
            "format",
            self.format,
            quality=(self.quality, DEFAULT_QUALITY.get(self.format)),
            progressive=(self.progressive, False),
            lossless=(self.lossless, False),
            strip=(self.strip, True),
            background=(self.background, DEFAULT_BACKGROUND),
        )


Operation: TypeAlias = (
    Resize
    | Thumbnail
    | Crop
    | Rotate
    | Flip
    | Grayscale
    | Blur
    | Sharpen
    | Brightness
    | Contrast
    | Watermark
    | Format
)
