"""A job from bytes to bytes: open, plan, decode once, run the steps, encode."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError

from domain.facts import Picture
from domain.operations import Operation
from domain.spec import Spec
from infra.imaging import content_type_for
from workers.imaging import decode
from workers.imaging.encode import ANIMATED_OUTPUTS, Metadata, encode, output_format
from workers.imaging.limits import MAX_OUTPUT_DIMENSION, Limits, ProcessingError, buffer_bytes
from workers.imaging.plan import plan
from workers.imaging.steps import Memo, apply

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    data: bytes
    format: str
    picture: Picture  # of `data`
    frames: int = 1
    peak_bytes: int = 0  # the most pixel-buffer bytes held at once
    # Seconds spent in each stage of the job: "decode", "operations", "encode".
    stages: dict[str, float] = field(default_factory=dict)


class Stopwatch:
    """Adds the time since the previous lap to the named stage."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self._last
        self._last = now


def render(
    data: bytes,
    spec: Spec,
    *,
    max_pixels: int,
    max_dimension: int = MAX_OUTPUT_DIMENSION,
    time_limit: float | None = None,
) -> Rendered:
    """Run `spec` on the image in `data`; every failure is a ProcessingError.

    `max_pixels` bounds the decoded image (all frames together) and every step's
    result; `max_dimension` bounds each side of every result. `time_limit` (seconds) is
    checked between steps, frames and before encoding: a single step is not interrupted.
    """
    limits = Limits.starting_now(max_pixels, max_dimension, time_limit)
    try:
        return _render(data, spec, limits)
    except ProcessingError:
        raise
    except Image.DecompressionBombError:
        raise ProcessingError("the image has more pixels than allowed") from None
    except UnidentifiedImageError:
        raise ProcessingError("the data is not an image in a supported format") from None
    except MemoryError:
        raise ProcessingError("the image needs more memory than is available") from None
    except (OSError, SyntaxError, EOFError, ValueError, IndexError) as error:
        raise ProcessingError(f"the image cannot be processed: {_first_line(error)}") from error
    except Exception as error:
        logger.exception("unexpected failure while rendering an image")
        raise ProcessingError("the image cannot be processed") from error


def _render(data: bytes, spec: Spec, limits: Limits) -> Rendered:
    clock = Stopwatch()
    source = decode.open_source(data, limits)
    strip = spec.output.strip if spec.output else True
    output = output_format(spec.output, source.format)
    frames: list[Image.Image] = []
    try:
        steps = plan(spec.operations, source.orientation, source.size)
        # Stripped, the pixels are converted to sRGB: the old profile must not travel along.
        profile = None if strip else source.icc_profile
        metadata = Metadata(decode.kept_exif(source, strip=strip), profile)
        if source.frames > 1 and output in ANIMATED_OUTPUTS:
            frames, durations, peak = _animation(source, steps, limits, clock)
        else:
            image, peak = _still(source, steps, limits, strip, clock)
            frames, durations = [image], []
    finally:
        if all(frame is not source.image for frame in frames):
            source.image.close()  # frees the decoded pixels now, not when collected
    limits.check_result(frames[0].size)
    limits.check_time()
    encoded = encode(frames, output, spec.output, metadata, durations, source.loop)
    clock.lap("encode")
    width, height = frames[0].size
    picture = Picture(
        content_type=content_type_for(output), size=len(encoded), width=width, height=height
    )
    return Rendered(encoded, output, picture, len(frames), peak, clock.stages)


def _still(
    source: decode.Source, steps: list[Operation], limits: Limits, strip: bool, clock: Stopwatch
) -> tuple[Image.Image, int]:
    decode.shrink_on_load(source, steps)
    image, peak = decode.decode_still(source, strip=strip)
    clock.lap("decode")
    nominal = source.size  # the first step is sized from the full image, whatever was decoded
    for step in steps:
        limits.check_time()
        result = apply(step, image, nominal, limits, {})
        if result is not image:
            peak = max(peak, buffer_bytes(image) + buffer_bytes(result))
            if image is source.image:
                image.close()  # the decode is not needed past the first step that copies it
        image, nominal = result, result.size
    clock.lap("operations")
    return image, peak


def _animation(
    source: decode.Source, steps: list[Operation], limits: Limits, clock: Stopwatch
) -> tuple[list[Image.Image], list[int], int]:
    """Every frame through the same steps; the output frames together obey the pixel limit."""
    memos: list[Memo] = [{} for _ in steps]
    frames: list[Image.Image] = []
    durations: list[int] = []
    canvas = source.size[0] * source.size[1] * 4  # the decoder's current frame
    held = peak = 0
    for frame, duration in decode.frames(source, limits):
        clock.lap("decode")
        image = frame
        for step, memo in zip(steps, memos, strict=True):
            limits.check_time()
            result = apply(step, image, image.size, limits, memo)
            peak = max(peak, canvas + held + buffer_bytes(image) + buffer_bytes(result))
            image = result
        clock.lap("operations")
        held += buffer_bytes(image)
        frames.append(image)
        durations.append(duration)
        total = sum(f.width * f.height for f in frames)
        if total > limits.max_pixels:
            raise ProcessingError(
                f"the animation's result has {total} pixels, more than the limit of "
                f"{limits.max_pixels}"
            )
    return frames, durations, peak


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__
