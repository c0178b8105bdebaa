"""The processing-spec grammar: `op|op|...`, each `name` or `name:arg,arg,key=value`.

    resize:WxH | resize:W | resize:xH   fit inside the box, aspect kept
        mode=fit|fill|force             fill covers the box and crops, force stretches
        upscale=true|false              fit and fill never enlarge unless true
    thumbnail:N                         fit into NxN, never enlarged
    crop:X,Y,W,H                        the region at X,Y of W by H pixels
    grayscale
    blur:R                              Gaussian blur of radius R
    sharpen[:amount=P,radius=R,threshold=T]   unsharp mask
    rotate:DEG[,expand=true|false]      clockwise degrees, expand keeps the corners
    flip:h|v                            mirror left-right or top-bottom
    brightness:F | contrast:F           factor, 1 leaves the image as it is
    format:jpeg|png|webp|gif[,quality=Q]   jpg is jpeg, quality for jpeg and webp

Names and words are case-insensitive. Every spec has a canonical text: defaults are
dropped, numbers written in their shortest form, floats rounded to three decimals and
angles brought into [0, 360). Two specs with the same canonical text give the same result.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Literal, TypeAlias, cast

import msgspec

from domain.errors import InvalidSpec

MAX_DIMENSION = 16384
MAX_OPERATIONS = 32
MAX_SPEC_LENGTH = 1024
DEFAULT_QUALITY = {"jpeg": 85, "webp": 80}

ResizeMode = Literal["fit", "fill", "force"]
OutputFormat = Literal["jpeg", "png", "webp", "gif"]


class Resize(msgspec.Struct, frozen=True, tag="resize"):
    width: int | None
    height: int | None
    mode: ResizeMode = "fit"
    upscale: bool = False

    def text(self) -> str:
        box = f"{self.width or ''}x{self.height or ''}".removesuffix("x")
        return _op("resize", box, mode=(self.mode, "fit"), upscale=(self.upscale, False))


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


class Grayscale(msgspec.Struct, frozen=True, tag="grayscale"):
    def text(self) -> str:
        return "grayscale"


class Blur(msgspec.Struct, frozen=True, tag="blur"):
    radius: float

    def text(self) -> str:
        return _op("blur", _number(self.radius))


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


class Rotate(msgspec.Struct, frozen=True, tag="rotate"):
    degrees: float
    expand: bool = True

    def text(self) -> str:
        return _op("rotate", _number(self.degrees), expand=(self.expand, True))


class Flip(msgspec.Struct, frozen=True, tag="flip"):
    direction: Literal["h", "v"]

    def text(self) -> str:
        return _op("flip", self.direction)


class Brightness(msgspec.Struct, frozen=True, tag="brightness"):
    factor: float

    def text(self) -> str:
        return _op("brightness", _number(self.factor))


class Contrast(msgspec.Struct, frozen=True, tag="contrast"):
    factor: float

    def text(self) -> str:
        return _op("contrast", _number(self.factor))


class Format(msgspec.Struct, frozen=True, tag="format"):
    format: OutputFormat
    quality: int | None = None  # jpeg and webp only; None for png and gif

    def text(self) -> str:
        return _op("format", self.format, quality=(self.quality, DEFAULT_QUALITY.get(self.format)))


Operation: TypeAlias = (
    Resize
    | Thumbnail
    | Crop
    | Grayscale
    | Blur
    | Sharpen
    | Rotate
    | Flip
    | Brightness
    | Contrast
    | Format
)


class Spec(msgspec.Struct, frozen=True):
    """A parsed pipeline of one or more operations, applied in order."""

    operations: tuple[Operation, ...]

    @property
    def canonical(self) -> str:
        """The normal form: parse_spec(spec.canonical) == spec, and it names the result."""
        return "|".join(operation.text() for operation in self.operations)

    @property
    def output_format(self) -> str | None:
        """The format the last `format` operation asks for; None keeps the input's."""
        formats = [op.format for op in self.operations if isinstance(op, Format)]
        return formats[-1] if formats else None

    @property
    def digest(self) -> str:
        """16 hex digits of the canonical form's SHA-256, for keys of results."""
        return hashlib.sha256(self.canonical.encode()).hexdigest()[:16]


def parse_spec(text: str) -> Spec:
    """Parse a processing spec; InvalidSpec names the operation that is wrong and why."""
    if len(text) > MAX_SPEC_LENGTH:
        raise InvalidSpec(text[:40], f"the spec is longer than {MAX_SPEC_LENGTH} characters")
    if not text.strip():
        raise InvalidSpec(text, "the spec is empty")
    tokens = [token.strip() for token in text.split("|")]
    if len(tokens) > MAX_OPERATIONS:
        raise InvalidSpec(tokens[MAX_OPERATIONS], f"more than {MAX_OPERATIONS} operations")
    return Spec(tuple(_parse_operation(token) for token in tokens))


class _Rejected(Exception):
    """A reason an operation is invalid; parse_spec adds the token."""


def _parse_operation(token: str) -> Operation:
    if not token:
        raise InvalidSpec(token, "empty operation (two '|' in a row, or one at an end)")
    written_name, _, rest = token.partition(":")
    parser = _PARSERS.get(written_name.strip().lower())
    if parser is None:
        known = ", ".join(sorted(_PARSERS))
        raise InvalidSpec(
            written_name.strip() or token, f"unknown operation, expected one of {known}"
        )
    try:
        positional, options = _split_arguments(rest) if rest.strip() else ([], {})
        operation = parser(_Arguments(positional, options))
    except _Rejected as rejected:
        raise InvalidSpec(token, str(rejected)) from None
    return operation


def _split_arguments(rest: str) -> tuple[list[str], dict[str, str]]:
    positional: list[str] = []
    options: dict[str, str] = {}
    for raw in rest.split(","):
        key, equals, value = (part.strip() for part in raw.partition("="))
        if not key or (equals and not value):
            raise _Rejected("empty argument")
        if not equals:
            if options:
                raise _Rejected(f"positional argument {key!r} after key=value options")
            positional.append(key)
            continue
        key = key.lower()
        if key in options:
            raise _Rejected(f"option {key!r} given twice")
        options[key] = value
    return positional, options


class _Arguments:
    """The arguments of one operation; each accessor validates and consumes."""

    def __init__(self, positional: list[str], options: dict[str, str]) -> None:
        self.positional = positional
        self.options = options

    def expect(self, count: int, usage: str) -> list[str]:
        if len(self.positional) != count:
            raise _Rejected(f"expected {usage}")
        return self.positional

    def option(self, key: str) -> str | None:
        return self.options.pop(key, None)

    def done(self) -> None:
        if self.options:
            raise _Rejected(f"unknown option {sorted(self.options)[0]!r}")


def _parse_resize(a: _Arguments) -> Resize:
    (box,) = a.expect(1, "a size WxH, W or xH")
    match = re.fullmatch(r"([0-9]*)(?:[xX]([0-9]*))?", box)
    if match is None or not (match[1] or match[2]):
        raise _Rejected(f"size {box!r} is not WxH, W or xH")
    width = _integer(match[1], "width", 1, MAX_DIMENSION) if match[1] else None
    height = _integer(match[2], "height", 1, MAX_DIMENSION) if match[2] else None
    mode = _choice(a.option("mode") or "fit", "mode", ("fit", "fill", "force"))
    upscale = _boolean(a.option("upscale") or "false", "upscale")
    a.done()
    if mode != "fit" and (width is None or height is None):
        raise _Rejected(f"mode={mode} needs both a width and a height")
    # Force always stretches to the box, so upscale makes no difference there.
    return Resize(width, height, cast(ResizeMode, mode), upscale and mode != "force")


def _parse_thumbnail(a: _Arguments) -> Thumbnail:
    (size,) = a.expect(1, "one size N")
    a.done()
    return Thumbnail(_integer(size, "size", 1, MAX_DIMENSION))


def _parse_crop(a: _Arguments) -> Crop:
    x, y, width, height = a.expect(4, "X,Y,W,H")
    a.done()
    return Crop(
        _integer(x, "x", 0, MAX_DIMENSION),
        _integer(y, "y", 0, MAX_DIMENSION),
        _integer(width, "width", 1, MAX_DIMENSION),
        _integer(height, "height", 1, MAX_DIMENSION),
    )


def _parse_grayscale(a: _Arguments) -> Grayscale:
    a.expect(0, "no arguments")
    a.done()
    return Grayscale()


def _parse_blur(a: _Arguments) -> Blur:
    (radius,) = a.expect(1, "one radius")
    a.done()
    return Blur(_decimal(radius, "radius", 0.0, 100.0, exclusive_low=True))


def _parse_sharpen(a: _Arguments) -> Sharpen:
    a.expect(0, "only options amount=, radius=, threshold=")
    amount, radius, threshold = a.option("amount"), a.option("radius"), a.option("threshold")
    a.done()
    return Sharpen(
        _integer(amount, "amount", 1, 500) if amount else 150,
        _decimal(radius, "radius", 0.0, 100.0, exclusive_low=True) if radius else 2.0,
        _integer(threshold, "threshold", 0, 255) if threshold else 3,
    )


def _parse_rotate(a: _Arguments) -> Rotate:
    (degrees,) = a.expect(1, "an angle in degrees")
    expand = _boolean(a.option("expand") or "true", "expand")
    a.done()
    angle = round(_decimal(degrees, "angle", -36000.0, 36000.0) % 360, 3)
    return Rotate(0.0 if angle == 360 else angle, expand)


def _parse_flip(a: _Arguments) -> Flip:
    (direction,) = a.expect(1, "h or v")
    a.done()
    return Flip(cast(Literal["h", "v"], _choice(direction, "direction", ("h", "v"))))


def _parse_brightness(a: _Arguments) -> Brightness:
    (factor,) = a.expect(1, "one factor")
    a.done()
    return Brightness(_decimal(factor, "factor", 0.0, 10.0))


def _parse_contrast(a: _Arguments) -> Contrast:
    (factor,) = a.expect(1, "one factor")
    a.done()
    return Contrast(_decimal(factor, "factor", 0.0, 10.0))


def _parse_format(a: _Arguments) -> Format:
    (name,) = a.expect(1, "jpeg, png, webp or gif")
    name = "jpeg" if name.lower() == "jpg" else name
    output = cast(OutputFormat, _choice(name, "format", ("jpeg", "png", "webp", "gif")))
    quality = a.option("quality")
    a.done()
    default = DEFAULT_QUALITY.get(output)
    if quality is not None and default is None:
        raise _Rejected(f"quality applies to jpeg and webp, not {output}")
    return Format(output, _integer(quality, "quality", 1, 100) if quality else default)


_PARSERS: dict[str, Callable[[_Arguments], Operation]] = {
    "resize": _parse_resize,
    "thumbnail": _parse_thumbnail,
    "crop": _parse_crop,
    "grayscale": _parse_grayscale,
    "blur": _parse_blur,
    "sharpen": _parse_sharpen,
    "rotate": _parse_rotate,
    "flip": _parse_flip,
    "brightness": _parse_brightness,
    "contrast": _parse_contrast,
    "format": _parse_format,
}


def _integer(text: str, what: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\+?[0-9]{1,9}", text):
        raise _Rejected(f"{what} {text!r} is not a whole number")
    value = int(text)
    if not low <= value <= high:
        raise _Rejected(f"{what} {value} is outside {low}..{high}")
    return value


def _decimal(
    text: str, what: str, low: float, high: float, *, exclusive_low: bool = False
) -> float:
    if not re.fullmatch(r"[+-]?([0-9]{1,9}(\.[0-9]{0,12})?|\.[0-9]{1,12})", text):
        raise _Rejected(f"{what} {text!r} is not a number")
    value = round(float(text), 3) + 0.0  # + 0.0 turns -0.0 into 0.0
    if value < low or value > high or (exclusive_low and value == low):
        bound = f"above {_number(low)}" if exclusive_low else f"at least {_number(low)}"
        raise _Rejected(f"{what} {text} must be {bound} and at most {_number(high)}")
    return value


def _choice(text: str, what: str, choices: tuple[str, ...]) -> str:
    if text.lower() not in choices:
        raise _Rejected(f"{what} {text!r} is not one of {', '.join(choices)}")
    return text.lower()


def _boolean(text: str, what: str) -> bool:
    return _choice(text, what, ("true", "false")) == "true"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _op(name: str, argument: str, **options: tuple[object, object]) -> str:
    """Canonical text of one operation; options equal to their default are left out."""
    words = [argument] if argument else []
    for key, (value, default) in options.items():
        if value != default:
            shown = str(value).lower() if isinstance(value, bool) else value
            words.append(f"{key}={_number(shown) if isinstance(shown, float) else shown}")
    return f"{name}:{','.join(words)}" if words else name
