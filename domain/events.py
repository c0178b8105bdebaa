"""The public event schema: what the event log says, as consumers read it.

Events travel as an `EventEnvelope` whose `data` is one member of a tagged
union. The same envelope comes from the notification log (embedded) and from
Kafka (production), so every consumer has one input type.

The image facts are flat fields here, as consumers have always read them;
`upload` and `result` give them as the values of domain.facts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.facts import Picture, Upload

SCHEMA_VERSION = "1"


class ImageUploaded(msgspec.Struct, frozen=True, tag=True, gc=False):
    file_name: str
    content_type: str
    size: int
    width: int
    height: int
    original_key: str

    @property
    def upload(self) -> Upload:
        return Upload.from_flat(self)


class ProcessingRequested(msgspec.Struct, frozen=True, tag=True, gc=False):
    request_no: int
    spec: str


class ProcessingCompleted(msgspec.Struct, frozen=True, tag=True, gc=False):
    request_no: int
    result_key: str
    content_type: str
    size: int
    width: int
    height: int

    @property
    def result(self) -> Picture:
        return Picture.from_flat(self)


class ProcessingFailed(msgspec.Struct, frozen=True, tag=True, gc=False):
    request_no: int
    reason: str


class ImageDeleted(msgspec.Struct, frozen=True, tag=True, gc=False):
    pass


EventData = (
    ImageUploaded | ProcessingRequested | ProcessingCompleted | ProcessingFailed | ImageDeleted
)

EVENT_TYPES: dict[str, type[EventData]] = {
    cls.__name__: cls
    for cls in (
        ImageUploaded,
        ProcessingRequested,
        ProcessingCompleted,
        ProcessingFailed,
        ImageDeleted,
    )
}


class EventEnvelope(msgspec.Struct, frozen=True, gc=False):
    type: str
    image_id: UUID
    version: int
    position: int
    occurred_at: datetime
    data: EventData


def envelope(
    *,
    event_type: str,
    image_id: UUID,
    version: int,
    position: int,
    occurred_at: datetime,
    state: dict[str, Any],
) -> EventEnvelope:
    """Build an envelope from a recorded event's type name and attributes."""
    data_type = EVENT_TYPES[event_type]
    fields = {name: state[name] for name in data_type.__struct_fields__}
    return EventEnvelope(
        type=event_type,
        image_id=image_id,
        version=version,
        position=position,
        occurred_at=occurred_at,
        data=data_type(**fields),
    )


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(EventEnvelope)


def encode(event: EventEnvelope) -> bytes:
    return _encoder.encode(event)


def decode(payload: bytes) -> EventEnvelope:
    """Raises msgspec.DecodeError (a ValueError) on anything that is not an envelope."""
    return _decoder.decode(payload)
