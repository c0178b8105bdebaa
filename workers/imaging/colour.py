"""Bringing decoded pixels to the few modes every operation handles, and colours to sRGB.

Working modes are L, LA, RGB and RGBA, 8 bits a sample. A colour profile other than
sRGB is converted to sRGB with LittleCMS (CMYK always, RGB when metadata is stripped);
a profile that cannot be read, or does not match the pixels, is ignored.
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageCms

logger = logging.getLogger(__name__)

WORKING_MODES = ("L", "LA", "RGB", "RGBA")
_SPACES = {"RGB": "RGB ", "RGBA": "RGB ", "CMYK": "CMYK", "L": "GRAY", "LA": "GRAY"}


def is_srgb_or_none(profile: bytes | None) -> bool:
    """True when the pixels may be taken as sRGB as they are."""
    if not profile:
        return True
    parsed = _parse(profile)
    return parsed is None or _is_srgb(parsed)


def to_srgb(image: Image.Image, profile: bytes | None, *, convert_rgb: bool) -> Image.Image:
    """The image in sRGB when its profile says otherwise (CMYK always, RGB if asked)."""
    parsed = _parse(profile) if profile else None
    if parsed is None or _SPACES.get(image.mode) != parsed.profile.xcolor_space:
        return image
    if image.mode == "CMYK" or (convert_rgb and image.mode in ("RGB", "RGBA")):
        if _is_srgb(parsed):
            return image
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        try:
            converted = ImageCms.profileToProfile(
                image, parsed, _srgb(), renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode=mode
            )
        except ImageCms.PyCMSError as error:
            logger.info("colour profile not applied: %s", error)
            return image
        assert converted is not None
        return converted
    return image


def profile_fits(profile: bytes | None, mode: str) -> bool:
    """Whether a profile describes pixels in this mode, so it may be written with them."""
    return profile is not None and profile[16:20].decode("latin-1") == _SPACES.get(mode)


def working_mode(image: Image.Image) -> Image.Image:
    """Any decoded mode as L, LA, RGB or RGBA (16-bit samples scaled to 8)."""
    mode = image.mode
    if mode in ("L", "RGB") and "transparency" in image.info:
        return image.convert("LA" if mode == "L" else "RGBA")
    if mode in WORKING_MODES:
        return image
    if mode in ("1", "F"):
        return image.convert("L")
    if mode.startswith("I"):
        return _eight_bit_gray(image)
    if mode == "PA":
        return image.convert("RGBA")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def _eight_bit_gray(image: Image.Image) -> Image.Image:
    wide = image.convert("I")
    if image.mode == "I":  # 32-bit: scale down only when the samples are wider than 8 bits
        brightest = wide.getextrema()[1]
        sixteen = isinstance(brightest, int | float) and brightest > 255
    else:
        sixteen = True  # I;16 and its byte orders
    return (wide.point(lambda value: value / 256) if sixteen else wide).convert("L")


def _srgb() -> ImageCms.ImageCmsProfile:
    # Made per job: LittleCMS profiles read their tags lazily and are not shared across threads.
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _parse(profile: bytes) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(profile))
    except (OSError, ImageCms.PyCMSError, ValueError):
        return None


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    try:
        description = ImageCms.getProfileDescription(profile)
    except ImageCms.PyCMSError:
        return False
    return "srgb" in description.lower()
