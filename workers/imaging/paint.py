"""Small pixel helpers: colours from spec hex, premultiplied alpha, flattening."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

Rgba = tuple[int, int, int, int]
Change = Callable[[Image.Image], Image.Image]


def rgba(hex_colour: str) -> Rgba:
    """`rrggbb` or `rrggbbaa` as a tuple."""
    values = [int(hex_colour[i : i + 2], 16) for i in range(0, len(hex_colour), 2)]
    return (values[0], values[1], values[2], values[3] if len(values) == 4 else 255)


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA")


def fill_colour(
    image: Image.Image, background: str | None
) -> tuple[Image.Image, float | tuple[int, ...] | None]:
    """The colour for uncovered corners, in the image's mode; an image that needs
    transparency for it gains an alpha channel. None: transparent, or black without alpha."""
    if background is None:
        return image, None
    red, green, blue, alpha = rgba(background)
    if alpha < 255 and not has_alpha(image):
        image = image.convert("LA" if image.mode == "L" else "RGBA")
    if image.mode in ("L", "LA"):
        gray = (red * 299 + green * 587 + blue * 114) // 1000
        return image, gray if image.mode == "L" else (gray * alpha // 255, alpha)
    if image.mode == "RGB":
        return image, (red, green, blue)
    # Pillow rotates RGBA with premultiplied alpha, so the fill is premultiplied too.
    return image, (red * alpha // 255, green * alpha // 255, blue * alpha // 255, alpha)


def premultiplied(image: Image.Image, change: Change) -> Image.Image:
    """Run `change` with premultiplied alpha, so transparent pixels do not bleed colour."""
    mode = {"RGBA": "RGBa", "LA": "La"}.get(image.mode)
    if mode is None:
        return change(image)
    return change(image.convert(mode)).convert(image.mode)


def flatten(image: Image.Image, background: str) -> Image.Image:
    """Lay an image with alpha on an opaque background."""
    if not has_alpha(image):
        return image
    red, green, blue, _ = rgba(background)
    base = "L" if image.mode == "LA" else "RGB"
    colour: float | tuple[int, int, int] = (
        (red * 299 + green * 587 + blue * 114) // 1000 if base == "L" else (red, green, blue)
    )
    flat = Image.new(base, image.size, colour)
    flat.paste(image.convert(base), mask=image.getchannel("A"))
    return flat
