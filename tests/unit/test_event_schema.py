"""The public event schema, pinned: what consumers receive does not change by accident.

The expected values are written out by hand. A renamed parameter of the aggregate, a
reordered field or a new one shows up here before it reaches Kafka, the events
endpoint or the event stores already in use.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent

from api.schemas import event_body
from commands.messages import (
    CompleteProcessing,
    DeleteImage,
    FailProcessing,
    RequestProcessing,
    UploadImage,
)
from domain.events import EventEnvelope, decode, encode
from domain.facts import Picture, Upload
from domain.status import ImageStatus
from tests.fakes import in_memory_event_store

IMAGE_ID = UUID("0b7e5f8c-3d4a-4e6b-9c1d-2f3a4b5c6d7e")
AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# One envelope of each event type, in the order the story below records them.
WIRE = [
    '{"type":"ImageUploaded","image_id":"0b7e5f8c-3d4a-4e6b-9c1d-2f3a4b5c6d7e","version":1,'
    '"position":1,"occurred_at":"2024-05-01T12:00:00Z","data":{"type":"ImageUploaded",'
    '"file_name":"cat.png","content_type":"image/png","size":1234,"width":640,"height":480,'
    '"original_key":"images/x/original"}}',
    '{"type":"ProcessingRequested","image_id":"0b7e5f8c-3d4a-4e6b-9c1d-2f3a4b5c6d7e","version":2,'
    '"position":2,"occurred_at":"2024-05-01T12:00:00Z","data":{"type":"ProcessingRequested",'
    '"request_no":1,"spec":"resize:100x100"}}',
    '{"type":"ProcessingCompleted","image_id":"0b7e5f8c-3d4a-4e6b-9c1d-2f3a4b5c6d7e","version":3,'
    '"position":3,"occurred_at":"2024-05-01T12:00:00Z","data":{"type":"ProcessingCompleted",'
    '"request_no":1,"result_key":"images/x/r.webp","content_type":"image/webp","size":321,'
    '"width":100,"height":75}}',
    '{"type":"ProcessingRequested","image_id":"0b7e5f8c-3d4a-4e6b-9c1d-2f3a4b5c6d7e","version":4,'
    '"position":4,"occurred_at":"2024-05-01T12:00:00Z","data":{"type":"ProcessingRequested",'
    '"request_no":2,"spec":"grayscale"}}',
    '{"type":"ProcessingFailed","image_id":"0b7e5f8c-3d4a-4e6b-9c1d-2f3a4b5c6d7e","version":5,'
    '"position":5,"occurred_at":"2024-05-01T12:00:00Z","data":{"type":"ProcessingFailed",'
    '"request_no":2,"reason":"the image cannot be processed"}}',
    '{"type":"ImageDeleted","image_id":"0b7e5f8c-3d4a-4e6b-9c1d-2f3a4b5c6d7e","version":6,'
    '"position":6,"occurred_at":"2024-05-01T12:00:00Z","data":{"type":"ImageDeleted"}}',
]

# The same events as the event stores hold them (topic, state): what earlier releases wrote.
STAMP = '{"timestamp":{"_type_":"datetime_iso","_data_":"2024-05-01T12:00:00+00:00"}'
STORED = [
    (
        "ImageUploaded",
        ',"originator_topic":"domain.image:Image","file_name":"cat.png",'
        '"content_type":"image/png","size":1234,"width":640,"height":480,'
        '"original_key":"images/x/original"}',
    ),
    ("ProcessingRequested", ',"request_no":1,"spec":"resize:100x100"}'),
    (
        "ProcessingCompleted",
        ',"request_no":1,"result_key":"images/x/r.webp","content_type":"image/webp",'
        '"size":321,"width":100,"height":75}',
    ),
    ("ProcessingRequested", ',"request_no":2,"spec":"grayscale"}'),
    ("ProcessingFailed", ',"request_no":2,"reason":"the image cannot be processed"}'),
    ("ImageDeleted", "}"),
]


def _stamped(state: bytes) -> str:
    """A stored state as if recorded at AT."""
    return re.sub(
        r'"_data_":"[^"]+"', '"_data_":"2024-05-01T12:00:00+00:00"', state.decode(), count=1
    )


def wire(events: list[EventEnvelope]) -> list[str]:
    return [encode(event).decode() for event in events]


def test_each_command_records_the_events_consumers_know() -> None:
    commands, log = in_memory_event_store()
    commands.upload(
        UploadImage(
            image_id=IMAGE_ID,
            upload=Upload(
                file_name="cat.png",
                picture=Picture(content_type="image/png", size=1234, width=640, height=480),
            ),
            original_key="images/x/original",
            spec="resize:100x100",
        )
    )
    commands.complete_processing(
        CompleteProcessing(
            image_id=IMAGE_ID,
            request_no=1,
            result_key="images/x/r.webp",
            result=Picture(content_type="image/webp", size=321, width=100, height=75),
        )
    )
    commands.request_processing(RequestProcessing(image_id=IMAGE_ID, spec="grayscale"))
    reason = "the image cannot be processed"
    commands.fail_processing(FailProcessing(image_id=IMAGE_ID, request_no=2, reason=reason))
    commands.delete(DeleteImage(image_id=IMAGE_ID))

    history = [msgspec.structs.replace(e, occurred_at=AT) for e in log.history(IMAGE_ID)]

    assert wire(history) == WIRE
    stored = commands.recorder.select_notifications(start=1, limit=len(STORED))
    assert [(n.topic, _stamped(n.state)) for n in stored] == [
        (f"domain.image:Image.{name}", STAMP + rest) for name, rest in STORED
    ]


def test_events_stored_by_earlier_releases_still_read_the_same() -> None:
    commands, log = in_memory_event_store()
    commands.recorder.insert_events(
        [
            StoredEvent(
                originator_id=IMAGE_ID,
                originator_version=version,
                topic=f"domain.image:Image.{name}",
                state=(STAMP + rest).encode(),
            )
            for version, (name, rest) in enumerate(STORED, start=1)
        ]
    )

    assert wire(list(log.history(IMAGE_ID))) == WIRE
    image = commands.image(IMAGE_ID)
    assert (image.status, image.request_no, image.result_key) == (
        ImageStatus.DELETED,
        2,
        "images/x/r.webp",
    )


def test_the_wire_form_decodes_and_encodes_to_itself() -> None:
    assert [encode(decode(text.encode())).decode() for text in WIRE] == WIRE


def test_the_events_endpoint_serves_the_same_json_as_the_event_stream() -> None:
    events = [decode(text.encode()) for text in WIRE]
    assert [msgspec.json.encode(event_body(e)).decode() for e in events] == WIRE


def _string(**extra: object) -> dict[str, object]:
    return {"type": "string", **extra}


INTEGER = {"type": "integer"}


def _event(name: str, **fields: dict[str, object]) -> dict[str, object]:
    return {
        "title": name,
        "type": "object",
        "properties": {"type": {"enum": [name]}, **fields},
        "required": ["type", *fields],
    }


def test_the_envelope_schema_is_flat_and_unchanged() -> None:
    names = [
        "ImageUploaded",
        "ProcessingRequested",
        "ProcessingCompleted",
        "ProcessingFailed",
        "ImageDeleted",
    ]
    assert msgspec.json.schema(EventEnvelope) == {
        "$ref": "#/$defs/EventEnvelope",
        "$defs": {
            "EventEnvelope": {
                "title": "EventEnvelope",
                "type": "object",
                "properties": {
                    "type": _string(),
                    "image_id": _string(format="uuid"),
                    "version": INTEGER,
                    "position": INTEGER,
                    "occurred_at": _string(),
                    "data": {
                        "anyOf": [{"$ref": f"#/$defs/{name}"} for name in names],
                        "discriminator": {
                            "propertyName": "type",
                            "mapping": {name: f"#/$defs/{name}" for name in names},
                        },
                    },
                },
                "required": ["type", "image_id", "version", "position", "occurred_at", "data"],
            },
            "ImageUploaded": _event(
                "ImageUploaded",
                file_name=_string(),
                content_type=_string(),
                size=INTEGER,
                width=INTEGER,
                height=INTEGER,
                original_key=_string(),
            ),
            "ProcessingRequested": _event(
                "ProcessingRequested", request_no=INTEGER, spec=_string()
            ),
            "ProcessingCompleted": _event(
                "ProcessingCompleted",
                request_no=INTEGER,
                result_key=_string(),
                content_type=_string(),
                size=INTEGER,
                width=INTEGER,
                height=INTEGER,
            ),
            "ProcessingFailed": _event("ProcessingFailed", request_no=INTEGER, reason=_string()),
            "ImageDeleted": _event("ImageDeleted"),
        },
    }
