"""Blob keys: where an image's bytes live, derived from what identifies them."""

from __future__ import annotations

from uuid import UUID


def original_key(image_id: UUID) -> str:
    return f"images/{image_id}/original"


def result_key(image_id: UUID, spec_digest: str, extension: str) -> str:
    """The same image processed with the same canonical spec lands on the same key."""
    return f"images/{image_id}/results/{spec_digest}.{extension}"


def image_prefix(image_id: UUID) -> str:
    return f"images/{image_id}/"
