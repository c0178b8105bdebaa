"""Opening an image for processing: allow-listed formats, limits read from the header,
shrink-on-load for JPEG, and one decode brought to a working mode."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import ExifTags, Image

from domain.operations import Operation
from infra.imaging import PILLOW_FORMATS, format_name
from workers.imaging.colour import is_srgb_or_none, to_srgb, working_mode
from workers.imaging.limits import Limits, ProcessingError, buffer_bytes
from workers.imaging.plan import grayscale_before_colour, starts_with_shrink
from workers.imaging.sizes import Size, resampled

_ANIMATED_INPUTS = ("gif", "webp")  # a multi-picture JPEG (MPO) is a still


@dataclass(frozen=True)
class Source:
    image: Image.Image  # opened, not yet decoded
    format: str
    size: Size  # as stored, before orientation
    orientation: int
    frames: int
    loop: int | None  # animation repeats, 0 forever, None once

    @property
    def icc_profile(self) -> bytes | None:
        return self.image.info.get("icc_profile") or None


def open_source(data: bytes, limits: Limits) -> Source:
    """Open the header only; raises before any pixel is decoded if a limit is exceeded."""
    try:
        image = Image.open(io.BytesIO(data), formats=list(PILLOW_FORMATS))
    except Image.DecompressionBombError:  # Pillow's own, far larger, safety net
        limit = limits.max_pixels
        raise ProcessingError(f"the image has more pixels than the limit of {limit}") from None
    try:
        ours = format_name(image.format)
        if ours is None:
            raise ProcessingError("the data is not an image in a supported format")
        limits.check_input(image.size)  # before counting frames, which reads the whole file
        animated = ours in _ANIMATED_INPUTS and getattr(image, "is_animated", False)
        frames = int(getattr(image, "n_frames", 1)) if animated else 1
        limits.check_input(image.size, frames)
        # A PNG may keep its EXIF after the pixels: Pillow then decodes here to reach it.
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        loop = image.info.get("loop")
    except BaseException:
        image.close()
        raise
    upright = orientation if orientation in range(1, 9) else 1
    return Source(image, ours, image.size, upright, frames, loop)


def shrink_on_load(source: Source, steps: list[Operation]) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the first step shrinks at least as
    much, and decode luminance only when colour is dropped before it is used."""
    if source.format != "jpeg":
        return
    first = starts_with_shrink(steps)
    target = resampled(first, source.size) if first is not None else None
    gray = (
        source.image.mode == "RGB"
        and grayscale_before_colour(steps)
        and is_srgb_or_none(source.icc_profile)
    )
    if target is not None or gray:
        source.image.draft("L" if gray else None, target)


def decode_still(source: Source, *, strip: bool) -> tuple[Image.Image, int]:
    """The first picture, decoded once, in sRGB and a working mode; and the bytes held at
    the peak. The decoded buffer is released as soon as a converted copy exists."""
    decoded = source.image
    decoded.load()
    profile = source.icc_profile
    image = working_mode(to_srgb(decoded, profile, convert_rgb=strip))
    peak = buffer_bytes(decoded) + (buffer_bytes(image) if image is not decoded else 0)
    if image is not decoded:
        decoded.close()
    return image, peak


def frames(source: Source, limits: Limits) -> Iterator[tuple[Image.Image, int]]:
    """Each frame of an animation, composed onto the canvas, in RGBA, with its duration."""
    for index in range(source.frames):
        limits.check_time()
        source.image.seek(index)
        yield source.image.convert("RGBA"), int(source.image.info.get("duration") or 0)


def kept_exif(source: Source, *, strip: bool) -> bytes | None:
    """EXIF to write back when metadata is kept; orientation is dropped, being applied."""
    if strip:
        return None
    exif = source.image.getexif()
    exif.pop(ExifTags.Base.Orientation, None)
    return exif.tobytes() if len(exif) else None
