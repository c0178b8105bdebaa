"""Commands: orders given to the image service. Imperative, frozen."""

from __future__ import annotations

from uuid import UUID

import msgspec

from domain.facts import Picture, Upload


class UploadImage(msgspec.Struct, frozen=True, kw_only=True):
    image_id: UUID
    upload: Upload
    original_key: str
    spec: str | None = None  # canonical form, already parsed


class RequestProcessing(msgspec.Struct, frozen=True, kw_only=True):
    image_id: UUID
    spec: str  # canonical form


class CompleteProcessing(msgspec.Struct, frozen=True, kw_only=True):
    image_id: UUID
    request_no: int
    result_key: str
    result: Picture


class FailProcessing(msgspec.Struct, frozen=True, kw_only=True):
    image_id: UUID
    request_no: int
    reason: str


class DeleteImage(msgspec.Struct, frozen=True, kw_only=True):
    image_id: UUID
