"""The domain's exception tree.

DomainError
├── InvalidSpec            a processing spec that does not parse (names the token)
├── InvalidImage           an upload that is not an image we accept
│   ├── EmptyImage         zero bytes
│   ├── ImageTooLarge      more bytes than allowed
│   ├── UnsupportedImage   not an image, or a format we do not accept
│   ├── CorruptImage       header unreadable or truncated
│   └── TooManyPixels      over the pixel limit, decompression bombs included
├── ImageNotFound          unknown id, or deleted
└── InvalidTransition      a command that the image's state forbids
    ├── ImageAlreadyDeleted  anything after deletion
    └── AlreadyProcessing  a new request while one is in flight
"""

from __future__ import annotations

from uuid import UUID


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class InvalidSpec(DomainError):
    def __init__(self, token: str, reason: str) -> None:
        self.token = token
        self.reason = reason
        super().__init__(f"invalid processing spec at {token!r}: {reason}")


class InvalidImage(DomainError):
    """The uploaded bytes are not an image we accept."""


class EmptyImage(InvalidImage):
    def __init__(self) -> None:
        super().__init__("the uploaded file is empty")


class ImageTooLarge(InvalidImage):
    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"the upload is larger than the limit of {limit} bytes")


class UnsupportedImage(InvalidImage):
    def __init__(self, detail: str = "the file is not an image of a supported type") -> None:
        super().__init__(detail)


class CorruptImage(InvalidImage):
    def __init__(self, detail: str) -> None:
        super().__init__(f"the image cannot be read: {detail}")


class TooManyPixels(InvalidImage):
    def __init__(self, pixels: int, limit: int) -> None:
        self.pixels = pixels
        self.limit = limit
        super().__init__(f"the image has {pixels} pixels, more than the limit of {limit}")


class ImageNotFound(DomainError):
    def __init__(self, image_id: UUID | str) -> None:
        self.image_id = image_id
        super().__init__(f"image {image_id} not found")


class InvalidTransition(DomainError):
    def __init__(self, image_id: UUID, detail: str) -> None:
        self.image_id = image_id
        super().__init__(detail)


class ImageAlreadyDeleted(InvalidTransition):
    def __init__(self, image_id: UUID) -> None:
        super().__init__(image_id, f"image {image_id} has been deleted")


class AlreadyProcessing(InvalidTransition):
    def __init__(self, image_id: UUID) -> None:
        super().__init__(image_id, f"image {image_id} is already being processed")
