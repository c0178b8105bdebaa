"""A small ICC v2 RGB profile written byte by byte, with any primaries.

With red and green swapped, a pixel stored as pure red means sRGB's pure green: an
image tagged with it shows at once whether its profile was honoured.
"""

from __future__ import annotations

import struct

# sRGB's colorants adapted to the D50 profile connection space.
SRGB_RED = (0.4361, 0.2225, 0.0139)
SRGB_GREEN = (0.3851, 0.7169, 0.0971)
SRGB_BLUE = (0.1431, 0.0606, 0.7141)
_D50 = (0.9642, 1.0, 0.8249)

XYZ = tuple[float, float, float]


def rgb_profile(
    red: XYZ = SRGB_GREEN, green: XYZ = SRGB_RED, blue: XYZ = SRGB_BLUE, name: str = "Swapped"
) -> bytes:
    """A matrix/TRC display profile with these colorants and a 2.2 gamma."""
    gamma = b"curv" + bytes(4) + struct.pack(">IH", 1, int(2.2 * 256)) + bytes(2)
    tags = [
        (b"desc", _description(name)),
        (b"cprt", b"text" + bytes(4) + b"none\0"),
        (b"wtpt", _xyz(_D50)),
        (b"rXYZ", _xyz(red)),
        (b"gXYZ", _xyz(green)),
        (b"bXYZ", _xyz(blue)),
        (b"rTRC", gamma),
        (b"gTRC", gamma),
        (b"bTRC", gamma),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        padded = data + bytes(-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + bytes(4)
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(24)
        + struct.pack(">I", 0)
        + b"".join(_fixed(value) for value in _D50)
        + bytes(48)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def _xyz(value: XYZ) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(_fixed(part) for part in value)


def _fixed(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _description(name: str) -> bytes:
    ascii_name = name.encode("ascii") + b"\0"
    return (
        b"desc"
        + bytes(4)
        + struct.pack(">I", len(ascii_name))
        + ascii_name
        + struct.pack(">II", 0, 0)
        + struct.pack(">HB", 0, 0)
        + bytes(67)
    )
