"""The steps a job runs: EXIF orientation first, then the spec, shrinking steps moved ahead.

A resize that shrinks gives the same picture whether it runs before or after a flip,
a quarter turn or grayscale (those commute with resampling, with the box's sides and
gravity turned to match), so it is moved in front of them: every later step then works
on fewer pixels, and a JPEG can be decoded at a reduced scale. Steps that depend on
the image's scale (crop, blur, sharpen, watermark, free rotation) keep their place.
"""

from __future__ import annotations

from collections.abc import Callable

from msgspec import structs

from domain.operations import Flip, Format, Gravity, Grayscale, Operation, Resize, Rotate, Thumbnail
from workers.imaging.sizes import Size, pixels, result_size

# The turns and mirrors that bring stored pixels upright, per EXIF orientation.
ORIENTATION_STEPS: dict[int, tuple[Operation, ...]] = {
    2: (Flip("h"),),
    3: (Rotate(180),),
    4: (Flip("v"),),
    5: (Rotate(90), Flip("h")),
    6: (Rotate(90),),
    7: (Rotate(270), Flip("h")),
    8: (Rotate(270),),
}

# Gravity as a compass vector: x grows to the east, y to the south.
_VECTORS: dict[Gravity, tuple[int, int]] = {
    "northwest": (-1, -1),
    "north": (0, -1),
    "northeast": (1, -1),
    "west": (-1, 0),
    "center": (0, 0),
    "east": (1, 0),
    "southwest": (-1, 1),
    "south": (0, 1),
    "southeast": (1, 1),
}
_NAMES = {vector: name for name, vector in _VECTORS.items()}


def plan(operations: tuple[Operation, ...], orientation: int, size: Size) -> list[Operation]:
    """The steps to run on an image of `size` (as stored) with that EXIF orientation."""
    steps: list[Operation] = []
    current = size
    for step in (*ORIENTATION_STEPS.get(orientation, ()), *operations):
        if isinstance(step, Format) or (isinstance(step, Rotate) and step.degrees == 0):
            continue
        after = result_size(step, current)
        position = len(steps)
        if isinstance(step, Resize | Thumbnail) and pixels(after) < pixels(current):
            while position > 0 and _commutes(steps[position - 1]):
                position -= 1
                step = _before(steps[position], step)
        steps.insert(position, step)
        current = after
    return steps


def starts_with_shrink(steps: list[Operation]) -> Resize | Thumbnail | None:
    first = steps[0] if steps else None
    return first if isinstance(first, Resize | Thumbnail) else None


def grayscale_before_colour(steps: list[Operation]) -> bool:
    """Whether the pipeline drops the colour before anything that could use it."""
    for step in steps:
        if isinstance(step, Grayscale):
            return True
        if not isinstance(step, Resize | Thumbnail | Flip | Rotate):
            return False
    return False


def _commutes(step: Operation) -> bool:
    match step:
        case Flip() | Grayscale():
            return True
        case Rotate(degrees=180):
            return True
        case Rotate(degrees=90 | 270, expand=True):
            return True
    return False


def _before(step: Operation, shrink: Resize | Thumbnail) -> Resize | Thumbnail:
    """The resize that, run before `step`, gives what `shrink` gives after it."""
    if isinstance(shrink, Thumbnail):
        return shrink
    match step:
        case Flip(direction="h"):
            return _regravity(shrink, lambda x, y: (-x, y))
        case Flip(direction="v"):
            return _regravity(shrink, lambda x, y: (x, -y))
        case Rotate(degrees=180):
            return _regravity(shrink, lambda x, y: (-x, -y))
        case Rotate(degrees=90):
            turned = _regravity(shrink, lambda x, y: (y, -x))
            return _swap_sides(turned)
        case Rotate(degrees=270):
            turned = _regravity(shrink, lambda x, y: (-y, x))
            return _swap_sides(turned)
    return shrink


def _regravity(resize: Resize, turn: Callable[[int, int], tuple[int, int]]) -> Resize:
    if resize.gravity == "smart":
        return resize
    return structs.replace(resize, gravity=_NAMES[turn(*_VECTORS[resize.gravity])])


def _swap_sides(resize: Resize) -> Resize:
    return structs.replace(resize, width=resize.height, height=resize.width)
