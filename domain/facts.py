"""The facts about an image, named once and passed as one value.

Commands, the aggregate and the pixel pipeline hand these values around. The event
schema, the read model's columns and the HTTP bodies spell the same facts out as flat
fields, the form their consumers know: `flat()` gives that form, `from_flat()` reads
it back, both by these field names.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec


class Picture(msgspec.Struct, frozen=True, kw_only=True):
    """An encoded image: its media type, its size in bytes and its size in pixels."""

    content_type: str
    size: int
    width: int
    height: int

    def flat(self, prefix: str = "") -> dict[str, Any]:
        return {prefix + name: value for name, value in msgspec.structs.asdict(self).items()}

    @classmethod
    def from_flat(cls, source: object, prefix: str = "") -> Picture:
        return cls(**{name: getattr(source, prefix + name) for name in cls.__struct_fields__})


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    """What a client uploaded: the picture, and the file name it gave (sanitised)."""

    file_name: str
    picture: Picture

    def flat(self) -> dict[str, Any]:
        return {"file_name": self.file_name, **self.picture.flat()}

    @classmethod
    def from_flat(cls, source: Named) -> Upload:
        return cls(file_name=source.file_name, picture=Picture.from_flat(source))


class Named(Protocol):
    @property
    def file_name(self) -> str: ...
