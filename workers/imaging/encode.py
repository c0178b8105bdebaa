"""Writing the result: the output format, its options, metadata, and animation."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from domain.operations import DEFAULT_QUALITY, Format
from workers.imaging.colour import profile_fits
from workers.imaging.limits import ProcessingError
from workers.imaging.paint import flatten

ANIMATED_OUTPUTS = ("gif", "webp", "png")  # png: APNG
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "avif": "avif"}
# Formats we read but do not write fall back to a lossless one.
_FALLBACK = {"bmp": "png", "tiff": "png"}
_MAX_SIDE = {"jpeg": 65_500, "webp": 16_383, "gif": 65_535, "avif": 65_536}
# AVIF's encoder effort, 0 (slowest, smallest) to 10; one thread, as jobs run side by side.
_AVIF_SPEED = 8


@dataclass(frozen=True)
class Metadata:
    exif: bytes | None = None
    icc_profile: bytes | None = None


def output_format(requested: Format | None, input_format: str) -> str:
    if requested is not None:
        return requested.format
    return _FALLBACK.get(input_format, input_format)


def encode(
    frames: list[Image.Image],
    output: str,
    options: Format | None,
    metadata: Metadata,
    durations: list[int],
    loop: int | None,
) -> bytes:
    """Encode one picture, or every frame as an animation when there are several."""
    if max(frames[0].size) > _MAX_SIDE.get(output, 2**31):
        raise ProcessingError(f"{output} holds at most {_MAX_SIDE[output]} pixels a side")
    if output == "jpeg":  # no alpha, no animation
        frames = [flatten(frames[0], options.background if options else "ffffff")]
    for frame in frames:
        frame.info = {}  # nothing of the source's metadata rides along by accident
    settings = _settings(output, options, metadata, frames[0].mode)
    if len(frames) > 1:
        settings |= _animation(output, frames, durations, loop)
    buffer = io.BytesIO()
    frames[0].save(buffer, _pillow_format(output), **settings)
    return buffer.getvalue()


def _settings(
    output: str, options: Format | None, metadata: Metadata, mode: str
) -> dict[str, object]:
    quality = (options.quality if options else None) or DEFAULT_QUALITY.get(output)
    settings: dict[str, object] = {}
    if metadata.exif and output != "gif":
        settings["exif"] = metadata.exif
    if metadata.icc_profile and profile_fits(metadata.icc_profile, mode) and output != "gif":
        settings["icc_profile"] = metadata.icc_profile
    match output:
        case "jpeg":
            settings |= {"quality": quality, "progressive": bool(options and options.progressive)}
        case "webp":
            lossless = bool(options and options.lossless)
            settings |= {"lossless": True, "quality": 80} if lossless else {"quality": quality}
            settings["method"] = 4
        case "avif":
            settings |= {"quality": quality, "speed": _AVIF_SPEED, "max_threads": 1}
    return settings


def _animation(
    output: str, frames: list[Image.Image], durations: list[int], loop: int | None
) -> dict[str, object]:
    settings: dict[str, object] = {
        "save_all": True,
        "append_images": frames[1:],
        "duration": durations,
    }
    if output == "gif":
        settings["disposal"] = 2  # each frame is a whole picture: clear before the next
        if loop is not None:
            settings["loop"] = loop
    else:
        settings["loop"] = 1 if loop is None else loop
    if output == "png":
        # Each frame is a whole picture: clear to transparent, then draw it as it is.
        settings |= {"disposal": 1, "blend": 0}
    return settings


def _pillow_format(output: str) -> str:
    if output == "avif":
        try:
            import pillow_avif  # noqa: F401  (registers the AVIF encoder with Pillow)
        except ImportError:
            raise ProcessingError("AVIF output is not available on this server") from None
    return output.upper()
