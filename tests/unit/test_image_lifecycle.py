"""The Image aggregate's lifecycle, checked against a model by hypothesis."""

from __future__ import annotations

from uuid import uuid4

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.errors import AlreadyProcessing, ImageAlreadyDeleted
from domain.facts import Picture, Upload
from domain.image import Image
from domain.status import ImageStatus


def new_image() -> Image:
    picture = Picture(content_type="image/png", size=10, width=4, height=3)
    return Image.uploaded(
        uuid4(), Upload(file_name="cat.png", picture=picture), "images/x/original"
    )


def complete(image: Image, request_no: int) -> bool:
    result = Picture(content_type="image/png", size=1, width=1, height=1)
    return image.complete_processing(request_no=request_no, result_key="r", result=result)


def rebuilt(image: Image) -> Image:
    """The aggregate as its recorded events rebuild it."""
    events = image.collect_events()
    copy: Image | None = None
    for event in events:
        copy = event.mutate(copy)
    assert copy is not None
    return copy


def test_upload_then_process_then_complete() -> None:
    image = new_image()
    image.request_processing("resize:100x100")
    assert image.status is ImageStatus.PROCESSING
    assert complete(image, 1)
    assert image.status is ImageStatus.PROCESSED


def test_a_repeated_or_stale_answer_records_nothing() -> None:
    image = new_image()
    image.request_processing("grayscale")
    assert complete(image, 1)
    assert not complete(image, 1)
    assert not image.fail_processing(request_no=1, reason="late")
    image.request_processing("blur:2")
    assert not complete(image, 1)  # answers the superseded request
    assert [type(e).__name__ for e in image.collect_events()] == [
        "ImageUploaded",
        "ProcessingRequested",
        "ProcessingCompleted",
        "ProcessingRequested",
    ]


def test_nothing_happens_after_deletion() -> None:
    image = new_image()
    image.delete()
    with pytest.raises(ImageAlreadyDeleted):
        image.request_processing("grayscale")
    with pytest.raises(ImageAlreadyDeleted):
        image.delete()
    assert not complete(image, 1)


def test_a_second_request_waits_for_the_first() -> None:
    image = new_image()
    image.request_processing("grayscale")
    with pytest.raises(AlreadyProcessing):
        image.request_processing("blur:1")


class ImageLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.image = new_image()
        self.status = ImageStatus.UPLOADED
        self.request_no = 0
        self.events = 1

    @rule(spec=st.sampled_from(["grayscale", "resize:10x10", "blur:2"]))
    def request(self, spec: str) -> None:
        if self.status is ImageStatus.DELETED:
            with pytest.raises(ImageAlreadyDeleted):
                self.image.request_processing(spec)
        elif self.status is ImageStatus.PROCESSING:
            with pytest.raises(AlreadyProcessing):
                self.image.request_processing(spec)
        else:
            self.image.request_processing(spec)
            self.status, self.request_no, self.events = (
                ImageStatus.PROCESSING,
                self.request_no + 1,
                self.events + 1,
            )

    @rule(offset=st.integers(-2, 1), succeed=st.booleans())
    def answer(self, offset: int, succeed: bool) -> None:
        request_no = self.request_no + offset
        expected = self.status is ImageStatus.PROCESSING and offset == 0
        if succeed:
            recorded = complete(self.image, request_no)
        else:
            recorded = self.image.fail_processing(request_no=request_no, reason="bad")
        assert recorded == expected
        if recorded:
            self.status = ImageStatus.PROCESSED if succeed else ImageStatus.FAILED
            self.events += 1

    @precondition(lambda self: self.status is not ImageStatus.DELETED)
    @rule()
    def delete(self) -> None:
        self.image.delete()
        self.status = ImageStatus.DELETED
        self.events += 1

    @invariant()
    def state_matches_the_model(self) -> None:
        assert self.image.status is self.status
        assert self.image.version == self.events

    def teardown(self) -> None:
        copy = rebuilt(self.image)
        assert copy.status is self.image.status
        assert copy.request_no == self.image.request_no
        assert copy.version == self.image.version


TestImageLifecycle = ImageLifecycle.TestCase
