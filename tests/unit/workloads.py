"""Random but valid histories of many images, as public event envelopes."""

from __future__ import annotations

from uuid import UUID, uuid4

from hypothesis import strategies as st

from domain import events as ev
from domain.facts import Picture, Upload
from domain.image import Image
from domain.status import ImageStatus

PICTURE = Picture(content_type="image/png", size=100, width=10, height=10)
RESULT = Picture(content_type="image/png", size=5, width=2, height=2)

# One step of a workload: (which image, what to do).
Step = tuple[int, str]

steps = st.lists(
    st.tuples(
        st.integers(0, 3), st.sampled_from(["upload", "request", "complete", "fail", "delete"])
    ),
    max_size=40,
)


def envelopes(workload: list[Step]) -> list[ev.EventEnvelope]:
    """Run the workload on aggregates; return every recorded event, positioned in order."""
    images: dict[int, Image] = {}
    recorded: list[ev.EventEnvelope] = []
    for slot, action in workload:
        image = images.get(slot)
        if image is None or action == "upload":
            if image is None:
                upload = Upload(file_name=f"{slot}.png", picture=PICTURE)
                images[slot] = image = Image.uploaded(uuid4(), upload, f"images/{slot}/original")
        elif image.status is ImageStatus.DELETED:
            continue
        elif action == "request" and image.status is not ImageStatus.PROCESSING:
            image.request_processing("grayscale")
        elif action == "complete":
            image.complete_processing(request_no=image.request_no, result_key="r", result=RESULT)
        elif action == "fail":
            image.fail_processing(request_no=image.request_no, reason="broken")
        elif action == "delete":
            image.delete()
        for event in image.collect_events():
            recorded.append(
                ev.envelope(
                    event_type=type(event).__name__,
                    image_id=UUID(str(event.originator_id)),
                    version=event.originator_version,
                    position=len(recorded) + 1,
                    occurred_at=event.timestamp,
                    state=event.__dict__,
                )
            )
    return recorded
