"""ImageCommands when the event store's answer is lost: a write that was stored is
reported as done, not as a conflict. And every commit, whoever ran the command, wakes
the followers of the log."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from commands.application import ImageCommands, version_after_upload
from commands.messages import DeleteImage, FailProcessing, RequestProcessing
from domain.errors import AlreadyProcessing, ImageNotFound
from domain.status import ImageStatus
from tests.fakes import an_upload, in_memory_event_store


def lose_the_next_reply(commands: ImageCommands) -> None:
    """The next insert is stored, then reported as failed, as when the store retries an
    insert whose first reply never came and meets its own rows."""
    recorder: Any = commands.recorder
    insert = recorder.insert_events

    def stored_then_conflict(*args: Any, **kwargs: Any) -> Any:
        recorder.insert_events = insert
        insert(*args, **kwargs)
        raise IntegrityError("duplicate key: the first attempt had been stored")

    recorder.insert_events = stored_then_conflict


def test_an_upload_whose_reply_was_lost_is_recorded_once() -> None:
    commands, log = in_memory_event_store()
    lose_the_next_reply(commands)
    image_id = commands.upload(an_upload("grayscale"))
    assert [e.type for e in log.history(image_id)] == ["ImageUploaded", "ProcessingRequested"]


def test_a_delete_whose_reply_was_lost_is_reported_done() -> None:
    commands, _ = in_memory_event_store()
    image_id = commands.upload(an_upload(None))
    lose_the_next_reply(commands)
    commands.delete(DeleteImage(image_id=image_id))
    assert commands.image(image_id).status is ImageStatus.DELETED
    with pytest.raises(ImageNotFound):  # a real second delete is still refused
        commands.delete(DeleteImage(image_id=image_id))


def test_a_request_whose_reply_was_lost_is_reported_done() -> None:
    commands, log = in_memory_event_store()
    image_id = commands.upload(an_upload(None))
    lose_the_next_reply(commands)
    assert commands.request_processing(RequestProcessing(image_id=image_id, spec="blur:2")) == 2
    assert [e.type for e in log.history(image_id)][-1] == "ProcessingRequested"


def test_an_upload_that_really_conflicts_still_fails() -> None:
    commands, _ = in_memory_event_store()
    command = an_upload(None, uuid4())
    commands.upload(command)
    with pytest.raises(IntegrityError):
        commands.upload(command)  # same id, another upload: not ours to claim


@pytest.mark.parametrize("spec", [None, "grayscale"])
def test_each_command_answers_with_the_image_s_version(spec: str | None) -> None:
    commands, log = in_memory_event_store()
    command = an_upload(spec)
    image_id = commands.upload(command)
    assert version_after_upload(command) == len(log.history(image_id))
    if spec is not None:
        commands.fail_processing(FailProcessing(image_id=image_id, request_no=1, reason="no"))

    requested = commands.request_processing(RequestProcessing(image_id=image_id, spec="blur:2"))
    assert requested == log.history(image_id)[-1].version
    assert commands.delete(DeleteImage(image_id=image_id)) == requested + 1


def test_every_committed_command_wakes_the_followers_and_a_refused_one_does_not() -> None:
    rings: list[None] = []
    commands, _ = in_memory_event_store(on_recorded=lambda: rings.append(None))

    image_id = commands.upload(an_upload("grayscale"))
    assert len(rings) == 1
    with pytest.raises(AlreadyProcessing):
        commands.request_processing(RequestProcessing(image_id=image_id, spec="blur:2"))
    assert len(rings) == 1
    commands.fail_processing(FailProcessing(image_id=image_id, request_no=1, reason="bad"))
    commands.delete(DeleteImage(image_id=image_id))
    assert len(rings) == 3


def test_a_failed_wake_up_does_not_fail_the_recorded_command() -> None:
    def broken() -> None:
        raise RuntimeError("the event loop is gone")

    commands, log = in_memory_event_store(on_recorded=broken)

    image_id = commands.upload(an_upload(None))

    assert [e.type for e in log.history(image_id)] == ["ImageUploaded"]
