"""Text laid over the image: white with a dark outline, so it reads on any background.

The font is Pillow's built-in default (scalable when Pillow has FreeType), so no font
file is needed. Without a size, the text is a sixteenth of the shorter side tall, and
it shrinks until it fits the width.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from domain.operations import Watermark
from workers.imaging.focus import gravity_offset

_MIN_SIZE = 6

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def watermark(image: Image.Image, operation: Watermark) -> Image.Image:
    size = operation.size or max(_MIN_SIZE, min(image.size) // 16)
    layer = _text_layer(operation.label, size, image.width, operation.opacity)
    margin = max(1, size // 2)
    x_fraction, y_fraction = gravity_offset(operation.position)
    free_x = max(0, image.width - layer.width - 2 * margin)
    free_y = max(0, image.height - layer.height - 2 * margin)
    left = min(margin, image.width - layer.width) + round(free_x * x_fraction)
    top = min(margin, image.height - layer.height) + round(free_y * y_fraction)
    return _composite(image, layer, (max(0, left), max(0, top)))


def _text_layer(text: str, size: int, max_width: int, opacity: float) -> Image.Image:
    """The text in white with a black outline on a transparent layer, alpha at `opacity`."""
    font, stroke = _font(size), max(1, size // 12)
    box = font.getbbox(text, stroke_width=stroke)
    while box[2] - box[0] > max_width - size and size > _MIN_SIZE:
        size = max(_MIN_SIZE, int(size * max(1, max_width - size) // (box[2] - box[0] + 1)))
        font, stroke = _font(size), max(1, size // 12)
        box = font.getbbox(text, stroke_width=stroke)
    layer = Image.new("RGBA", (max(1, int(box[2] - box[0])), max(1, int(box[3] - box[1]))))
    ImageDraw.Draw(layer).text(
        (-box[0], -box[1]),
        text,
        font=font,
        fill=(255, 255, 255, 255),
        stroke_width=stroke,
        stroke_fill=(0, 0, 0, 255),
    )
    alpha = layer.getchannel("A").point(lambda value: round(value * opacity))
    layer.putalpha(alpha)
    return layer


def _font(size: int) -> Font:
    return ImageFont.load_default(size)


def _composite(image: Image.Image, layer: Image.Image, at: tuple[int, int]) -> Image.Image:
    visible = layer.crop(
        (0, 0, min(layer.width, image.width - at[0]), min(layer.height, image.height - at[1]))
    )
    if image.mode in ("RGBA", "LA"):
        mode = image.mode
        canvas = image.convert("RGBA") if mode == "LA" else image.copy()
        canvas.alpha_composite(visible, at)
        return canvas.convert(mode) if mode == "LA" else canvas
    canvas = image.copy()
    canvas.paste(visible.convert(image.mode), at, visible.getchannel("A"))
    return canvas
