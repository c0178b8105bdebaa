"""The pixel pipeline: decode, orient, run a spec's operations, encode.

CPU-bound and synchronous; the processor calls it in a worker thread. Every failure
becomes a ProcessingError with a short reason fit to record in an event.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageEnhance, ImageFilter, ImageOps, UnidentifiedImageError

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
    Spec,
    Thumbnail,
)
from infra.imaging import PILLOW_FORMATS, content_type_for, format_name

logger = logging.getLogger(__name__)

# Formats we read but do not write fall back to a lossless one.
_DEFAULT_OUTPUT = {"bmp": "png", "tiff": "png"}
_DEFAULT_QUALITY = {"jpeg": 85, "webp": 80}
_EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif"}
# Past this ratio Pillow first reduces by an integer factor, then resamples the rest.
_REDUCING_GAP = 3.0
# ICC colour-space signatures that suit our working modes; others are dropped.
_ICC_SPACES = {"RGB": b"RGB ", "RGBA": b"RGB ", "L": b"GRAY", "LA": b"GRAY"}

_FLIPS = {"h": Image.Transpose.FLIP_LEFT_RIGHT, "v": Image.Transpose.FLIP_TOP_BOTTOM}

_Change = Callable[[Image.Image], Image.Image]


class ProcessingError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Rendered:
    data: bytes
    format: str
    content_type: str
    width: int
    height: int


def result_extension(format: str) -> str:
    """The file extension for a result in one of our output formats ('jpeg' -> 'jpg')."""
    try:
        return _EXTENSIONS[format]
    except KeyError:
        raise ValueError(f"no extension for format {format!r}") from None


def render(data: bytes, spec: Spec, *, max_pixels: int) -> Rendered:
    """Run `spec` on the image in `data`; raises ProcessingError on any failure."""
    try:
        return _render(data, spec, max_pixels)
    except ProcessingError:
        raise
    except Image.DecompressionBombError:
        raise ProcessingError("the image has more pixels than allowed") from None
    except UnidentifiedImageError:
        raise ProcessingError("the data is not an image in a supported format") from None
    except MemoryError:
        raise ProcessingError("the image needs more memory than is available") from None
    except (OSError, SyntaxError, EOFError, ValueError) as error:
        raise ProcessingError(f"the image cannot be processed: {_first_line(error)}") from error
    except Exception as error:
        logger.exception("unexpected failure while rendering an image")
        raise ProcessingError("the image cannot be processed") from error


def _render(data: bytes, spec: Spec, max_pixels: int) -> Rendered:
    with Image.open(io.BytesIO(data), formats=list(PILLOW_FORMATS)) as source:
        _check_pixels(source.size, max_pixels, "the image")
        full_size = _shrink_on_load(source, spec.operations[0])
        source.load()
        ImageOps.exif_transpose(source, in_place=True)  # in place: no copy when upright
        image = _working_mode(source)
        input_format = format_name(source.format) or "png"
    # The first step is sized from the full image, so shrinking on load never changes a result.
    image = _apply(spec.operations[0], image, max_pixels, full_size)
    for operation in spec.operations[1:]:
        image = _apply(operation, image, max_pixels, image.size)
    output = spec.output_format or _DEFAULT_OUTPUT.get(input_format, input_format)
    encoded = _encode(image, output, _quality(spec, output))
    return Rendered(encoded, output, content_type_for(output), image.width, image.height)


def _apply(
    operation: Operation, image: Image.Image, max_pixels: int, full_size: tuple[int, int]
) -> Image.Image:
    """One step; a resize is sized from `full_size`, the image's size before any shrink-on-load."""
    match operation:
        case Resize(mode="fill", width=int(width), height=int(height)):
            return _fill(image, (width, height), operation.upscale, max_pixels)
        case Resize() | Thumbnail():
            return _resample(image, _scaled_size(operation, full_size), max_pixels)
        case Crop(x=x, y=y, width=width, height=height):
            return _crop(image, (x, y, x + width, y + height))
        case Grayscale():
            return image.convert("LA" if _has_alpha(image) else "L")
        case Blur(radius=radius):
            return _premultiplied(image, lambda im: im.filter(ImageFilter.GaussianBlur(radius)))
        case Sharpen(amount=amount, radius=radius, threshold=threshold):
            mask = ImageFilter.UnsharpMask(radius, amount, threshold)
            return _premultiplied(image, lambda im: im.filter(mask))
        case Rotate():
            return _rotate(image, operation, max_pixels)
        case Flip(direction=direction):
            return image.transpose(_FLIPS[direction])
        case Brightness(factor=factor):
            return ImageEnhance.Brightness(image).enhance(factor)
        case Contrast(factor=factor):
            return ImageEnhance.Contrast(image).enhance(factor)
        case Format():
            return image
    raise ProcessingError(f"unsupported operation {operation!r}")


def _scaled_size(operation: Operation, size: tuple[int, int]) -> tuple[int, int] | None:
    """The size a resize or thumbnail resamples to, or None for other operations."""
    match operation:
        case Thumbnail(size=box):
            return _fit(size, box, box, upscale=False)
        case Resize(mode="force", width=int(width), height=int(height)):
            return width, height
        case Resize(mode="fit"):
            return _fit(size, operation.width, operation.height, operation.upscale)
        case Resize(mode="fill", width=int(width), height=int(height)):
            scale = max(width / size[0], height / size[1])
            return math.ceil(size[0] * scale), math.ceil(size[1] * scale)
    return None


def _fit(
    size: tuple[int, int], box_width: int | None, box_height: int | None, upscale: bool
) -> tuple[int, int]:
    width, height = size
    by_width = box_width is not None and (
        box_height is None or box_width * height <= box_height * width
    )
    if by_width and box_width is not None:
        if box_width >= width and not upscale:
            return size
        return box_width, max(1, round(height * box_width / width))
    assert box_height is not None  # the grammar guarantees one side of the box
    if box_height >= height and not upscale:
        return size
    return max(1, round(width * box_height / height)), box_height


def _fill(image: Image.Image, box: tuple[int, int], upscale: bool, max_pixels: int) -> Image.Image:
    """Cover the box and crop the overflow evenly; a small image keeps the box's shape."""
    width, height = image.size
    shrink = 1.0 if upscale else min(1.0, width / box[0], height / box[1])
    target = (max(1, round(box[0] * shrink)), max(1, round(box[1] * shrink)))
    scale = max(target[0] / width, target[1] / height)
    region_width, region_height = target[0] / scale, target[1] / scale
    left, top = (width - region_width) / 2, (height - region_height) / 2
    region = (left, top, left + region_width, top + region_height)
    return _resample(image, target, max_pixels, region)


def _resample(
    image: Image.Image,
    size: tuple[int, int] | None,
    max_pixels: int,
    region: tuple[float, float, float, float] | None = None,
) -> Image.Image:
    if size is None or (size == image.size and region is None):
        return image
    _check_pixels(size, max_pixels, "the result")
    return image.resize(size, Image.Resampling.LANCZOS, box=region, reducing_gap=_REDUCING_GAP)


def _crop(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    left, top = box[0], box[1]
    right, bottom = min(box[2], image.width), min(box[3], image.height)
    if left >= right or top >= bottom:
        raise ProcessingError(
            f"the crop region lies outside the {image.width}x{image.height} image"
        )
    return image.crop((left, top, right, bottom))


def _rotate(image: Image.Image, operation: Rotate, max_pixels: int) -> Image.Image:
    angle, expand = operation.degrees, operation.expand
    quarter_turns = {
        90: Image.Transpose.ROTATE_270,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_90,
    }
    if angle == 0:
        return image
    if angle in quarter_turns and (expand or angle == 180 or image.width == image.height):
        return image.transpose(quarter_turns[int(angle)])
    if expand:
        radians = math.radians(angle)
        cos, sin = abs(math.cos(radians)), abs(math.sin(radians))
        size = (image.width * cos + image.height * sin, image.width * sin + image.height * cos)
        _check_pixels((math.ceil(size[0]), math.ceil(size[1])), max_pixels, "the result")
    # Pillow turns counter-clockwise; our angles are clockwise. Corners are transparent
    # when the image has alpha, black otherwise.
    return _premultiplied(
        image,
        lambda im: im.rotate(-angle, Image.Resampling.BICUBIC, expand=expand),
    )


def _premultiplied(image: Image.Image, change: _Change) -> Image.Image:
    """Filter with premultiplied alpha, so transparent pixels do not bleed their colour."""
    premultiplied = {"RGBA": "RGBa", "LA": "La"}.get(image.mode)
    if premultiplied is None:
        return change(image)
    return change(image.convert(premultiplied)).convert(image.mode)


def _shrink_on_load(source: Image.Image, first: Operation) -> tuple[int, int]:
    """Let the JPEG decoder scale down by 2, 4 or 8 when the first step shrinks anyway.

    Returns the size of the upright image before any shrinking.
    """
    width, height = source.size
    turned = source.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)
    upright = (height, width) if turned else (width, height)
    target = _scaled_size(first, upright)
    if source.format in ("JPEG", "MPO") and target is not None:
        source.draft(None, (target[1], target[0]) if turned else target)
    return upright


def _working_mode(image: Image.Image) -> Image.Image:
    """Bring any decoded mode to L, LA, RGB or RGBA, the modes every operation handles."""
    mode = image.mode
    if mode in ("L", "RGB") and "transparency" in image.info:
        return image.convert("LA" if mode == "L" else "RGBA")
    if mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I"):
        wide = image.convert("I")
        brightest = wide.getextrema()[1]
        if isinstance(brightest, int | float) and brightest > 255:  # 16-bit samples
            wide = wide.point(lambda value: value / 256)
        return wide.convert("L")
    if mode == "F":
        return image.convert("L")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def _encode(image: Image.Image, output: str, quality: int) -> bytes:
    profile: bytes = image.info.get("icc_profile") or b""
    keep_profile = profile[16:20] == _ICC_SPACES.get(image.mode)
    # Metadata (EXIF, XMP, comments, text chunks) is not carried over; the colour
    # profile is, since without it the colours would change.
    image.info = {}
    options: dict[str, object] = {"icc_profile": profile} if keep_profile else {}
    if output == "jpeg":
        image = _flatten(image)
        options |= {"quality": quality, "progressive": True, "optimize": False}
    elif output == "webp":
        options |= {"quality": quality, "method": 4}
    buffer = io.BytesIO()
    image.save(buffer, output.upper(), **options)
    return buffer.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: lay the image on white."""
    if not _has_alpha(image):
        return image
    base = "L" if image.mode == "LA" else "RGB"
    background = Image.new(base, image.size, "white")
    background.paste(image.convert(base), mask=image.getchannel("A"))
    return background


def _quality(spec: Spec, output: str) -> int:
    formats = [op for op in spec.operations if isinstance(op, Format)]
    chosen = formats[-1].quality if formats else None
    return chosen or _DEFAULT_QUALITY.get(output, 0)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA")


def _check_pixels(size: tuple[int, int], max_pixels: int, what: str) -> None:
    if size[0] * size[1] > max_pixels:
        pixels = size[0] * size[1]
        raise ProcessingError(f"{what} has {pixels} pixels, more than the limit of {max_pixels}")


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__
