"""The operator's commands, `imgproc events …` and `imgproc projections …`, on the database
the service uses: what they print, and how they refuse what they cannot do."""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from typer.testing import CliRunner, Result

from api.schemas import ImageEvents, event_body
from cli.main import app
from commands.messages import CompleteProcessing, DeleteImage, FailProcessing, RequestProcessing
from domain.events import EventEnvelope, decode
from domain.facts import Picture
from infra.event_store import SqlEventLog
from infra.kafka import ensure_topic
from infra.settings import Settings
from projections.sql import SqlReadModel
from projections.tracking import SqlTracking
from tests.fakes import an_upload
from tests.servers import closed_port, tansu_broker
from workers.projector import ProjectorRunner
from workers.relay import message

if TYPE_CHECKING:
    from tests.integration.backends import Backend

pytest_plugins = ["tests.integration.backends"]  # the `backend` fixtures

ROOT = Path(__file__).resolve().parents[2]
POSITIONS_5_TO_4 = ["--from-position", "5", "--to-position", "4"]


class Imgproc:
    """The `imgproc` command, run in a directory of its own against one backend."""

    def __init__(self, settings: Settings) -> None:
        self.env = {k: None for k in os.environ if k.startswith("IMGPROC_")} | {
            "IMGPROC_DATA_DIR": str(settings.data_dir),
            "IMGPROC_DATABASE_URL": settings.database_url,
        }

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=self.env)

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMGPROC_")}
        env |= {k: v for k, v in self.env.items() if v is not None}
        env["PYTHONPATH"] = str(ROOT)
        return subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )


class History:
    """Three images: one processed then re-processed, one deleted, one failed."""

    def __init__(self, backend: Backend) -> None:
        self.commands = backend.commands()
        self.log = SqlEventLog(self.commands)
        database = backend.database()
        self.read_model = SqlReadModel(database)
        self.tracking = SqlTracking(database)
        self.processed = self.upload("resize:10x10")
        self.complete(self.processed)
        self.deleted = self.upload(None)
        self.commands.delete(DeleteImage(image_id=self.deleted))
        self.failed = self.upload("grayscale")
        self.commands.fail_processing(
            FailProcessing(image_id=self.failed, request_no=1, reason="corrupt")
        )
        self.commands.request_processing(RequestProcessing(image_id=self.processed, spec="blur:2"))
        self.project()

    def upload(self, spec: str | None) -> UUID:
        return self.commands.upload(an_upload(spec))

    def complete(self, image_id: UUID) -> None:
        self.commands.complete_processing(
            CompleteProcessing(
                image_id=image_id,
                request_no=1,
                result_key="results/cat.png",
                result=Picture(content_type="image/png", size=99, width=10, height=8),
            )
        )

    def project(self) -> None:
        """Project the whole log, as the projector following it would."""
        runner = ProjectorRunner(self.read_model, self.log)
        runner.apply_batch(self.everything())
        self.tracking.set_position(runner.name, self.log.head())

    def everything(self) -> list[EventEnvelope]:
        return list(self.log.read(0, 1_000))


@pytest.fixture
def history(backend: Backend) -> History:
    return History(backend)


@pytest.fixture
def imgproc(backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Imgproc:
    monkeypatch.chdir(tmp_path)  # no config/local.yaml of anyone's
    return Imgproc(backend.settings)


def jsonl(result: Result) -> list[EventEnvelope]:
    assert result.exit_code == 0, result.output
    return [decode(line.encode()) for line in result.stdout.splitlines()]


def test_the_log_in_json_lines_reads_back_as_the_envelopes_recorded(
    history: History, imgproc: Imgproc
) -> None:
    assert jsonl(imgproc("events", "list", "--format", "jsonl")) == history.everything()
    # Down a pipe, JSON Lines is the default.
    assert jsonl(imgproc("events", "list")) == history.everything()


def test_the_log_filtered_by_image_type_time_position_and_count(
    history: History, imgproc: Imgproc
) -> None:
    events = history.everything()
    third = events[2]

    def listed(*options: str) -> list[EventEnvelope]:
        return jsonl(imgproc("events", "list", *options))

    assert listed("--image", str(history.deleted)) == [
        e for e in events if e.image_id == history.deleted
    ]
    assert [e.type for e in listed("--type", "ImageDeleted", "--type", "ImageUploaded")] == [
        "ImageUploaded",
        "ImageUploaded",
        "ImageDeleted",
        "ImageUploaded",
    ]
    assert listed("--since", third.occurred_at.isoformat()) == events[2:]
    assert (
        listed("--until", (third.occurred_at - timedelta(microseconds=1)).isoformat())
        == (events[:2])
    )
    assert listed("--from-position", str(third.position)) == events[3:]
    assert listed("--limit", "2") == events[:2]
    assert listed("--since", "1h", "--type", "ProcessingCompleted") == [events[2]]


def test_the_log_as_a_table_for_people(history: History, imgproc: Imgproc) -> None:
    result = imgproc("events", "list", "--format", "table", "--image", str(history.processed))

    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    rows = [line for line in lines if line.split()[0].isdigit()]  # long data folds
    assert header.split() == ["position", "time", "(UTC)", "image", "ver", "type", "data"]
    assert [row.split()[5] for row in rows] == [
        "ImageUploaded",
        "ProcessingRequested",
        "ProcessingCompleted",
        "ProcessingRequested",
    ]
    assert "spec=blur:2" in rows[-1]


def test_an_images_history_in_json_is_what_the_api_returns(
    history: History, imgproc: Imgproc
) -> None:
    result = imgproc("events", "show", str(history.processed), "--format", "json")

    assert result.exit_code == 0, result.output
    events = history.log.history(history.processed)
    api_body = ImageEvents(history.processed, [event_body(event) for event in events])
    assert msgspec.json.decode(result.stdout) == msgspec.to_builtins(api_body)


def test_an_images_history_with_its_state_now_and_as_of_a_version_or_time(
    history: History, imgproc: Imgproc
) -> None:
    now = imgproc("events", "show", str(history.processed))
    at_version = imgproc("events", "show", str(history.processed), "--at", "3")
    uploaded_at = history.log.history(history.processed)[0].occurred_at
    at_time = imgproc("events", "show", str(history.processed), "--at", uploaded_at.isoformat())

    assert now.exit_code == at_version.exit_code == at_time.exit_code == 0, now.output
    assert "state now" in now.stdout
    assert "status: processed → processing" in now.stdout
    assert state_line(now, "spec") == "blur:2"
    assert "state as of version 3 of 4" in at_version.stdout
    assert (state_line(at_version, "status"), state_line(at_version, "spec")) == (
        "processed",
        "resize:10x10",
    )
    assert "state as of version 1 of 4" in at_time.stdout
    assert state_line(at_time, "status") == "uploaded"


def state_line(result: Result, field: str) -> str:
    state = result.stdout[result.stdout.index("state ") :]
    (value,) = [line.split()[1] for line in state.splitlines() if line.split()[:1] == [field]]
    return value


def test_projections_are_listed_with_their_position_and_lag(
    history: History, imgproc: Imgproc
) -> None:
    history.upload(None)  # recorded, not projected yet
    head = history.log.head()

    result = imgproc("projections", "list")

    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [
        *["projection", "position", "head", "lag"],
        *["image_status", str(head - 1), str(head), "1"],
    ]


def test_a_projector_fed_from_kafka_is_listed_with_its_consumer_group(
    history: History, imgproc: Imgproc
) -> None:
    imgproc.env["IMGPROC_KAFKA_BROKERS"] = "127.0.0.1:9092"  # not contacted

    result = imgproc("projections", "list")

    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [
        *["projection", "position", "head", "lag", "fed", "by", "Kafka", "group"],
        *["image_status", "-", str(history.log.head()), "-", "imgproc-projector"],
    ]


def test_a_rebuild_says_what_it_did_and_shows_no_progress_bar_off_a_terminal(
    history: History, imgproc: Imgproc
) -> None:
    result = imgproc("projections", "rebuild")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    (line,) = result.stdout.splitlines()
    assert line.startswith("image_status: rebuilt from 9 events in ")
    assert line.endswith(f"now at position {history.log.head()}")


def test_verify_passes_an_intact_projection_and_fails_a_tampered_one(
    backend: Backend, history: History, imgproc: Imgproc
) -> None:
    intact = imgproc("projections", "verify", "image_status")
    with backend.database().transaction() as cursor:
        cursor.execute("UPDATE image_status SET status = 'uploaded' WHERE status = 'failed'")
    drifted = imgproc("projections", "verify")

    assert intact.exit_code == 0, intact.output
    assert intact.stdout.startswith("image_status: 3 rows match a rebuild up to position ")
    assert drifted.exit_code == 1
    assert drifted.stdout.splitlines() == [
        f"image_status: 1 of 3 rows differ from a rebuild up to position {history.log.head()}",
        f"  {history.failed}: status live=uploaded rebuilt=failed",
    ]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["projections", "rebuild", "image_sizes"], "unknown projection 'image_sizes'"),
        (["projections", "verify", "image_sizes"], "unknown projection 'image_sizes'"),
        (["projections", "rebuild", "--batch-size", "0"], "bad batch size 0"),
        (["events", "list", "--since", "last tuesday"], "bad time 'last tuesday'"),
        (["events", "list", "--until", "2025-02-30"], "bad time '2025-02-30'"),
        (["events", "list", "--type", "ImageResized"], "unknown event type 'ImageResized'"),
        (["events", "list", "--from-position", "-1"], "bad position -1"),
        (["events", "list", "--from-position", "1000"], "bad position 1000: the log ends at 9"),
        (["events", "list", "--limit", "0"], "bad limit 0"),
        (["events", "list", "--image", "cat"], "not an image id: 'cat'"),
        (["events", "show", str(UUID(int=7))], f"image {UUID(int=7)} not found"),
        (["events", "list", "--image", str(UUID(int=7))], f"image {UUID(int=7)} not found"),
        (["events", "show", "{deleted}", "--at", "9"], "has no version 9 (versions 1 to 2)"),
        (["events", "show", "{deleted}", "--at", "2001-01-01"], "did not exist at 2001"),
        (["events", "show", "{deleted}", "--at", "noon"], "bad time 'noon'"),
        (["events", "tail", "--from-position", "99"], "bad position 99"),
        (["events", "republish", "--from-position", "1"], "no Kafka brokers"),
        (
            ["events", "republish", "--brokers", "127.0.0.1:1", "--from-position", "0"],
            "bad position 0: positions start at 1",
        ),
        (
            ["events", "republish", "--brokers", "127.0.0.1:1", *POSITIONS_5_TO_4],
            "--to-position 4 is before --from-position",
        ),
    ],
)
def test_bad_arguments_get_one_line_of_explanation_and_a_failing_status(
    history: History, imgproc: Imgproc, args: list[str], complaint: str
) -> None:
    result = imgproc(*[arg.format(deleted=history.deleted) for arg in args])

    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("imgproc: ")
    assert complaint in line


def test_a_directory_without_a_service_is_refused_without_creating_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = Imgproc(Settings(data_dir=tmp_path / "nothing"))("events", "list")

    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("imgproc: no event store in ")
    assert not (tmp_path / "nothing").exists()


def test_a_database_that_cannot_be_reached_is_reported_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    unreachable = f"postgresql://postgres@127.0.0.1:{closed_port()}/images"
    result = Imgproc(Settings(data_dir=tmp_path, database_url=unreachable))("projections", "list")

    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("imgproc: postgres is unavailable: ")


def test_tail_prints_new_events_as_they_are_recorded_until_interrupted(
    history: History, imgproc: Imgproc
) -> None:
    start = history.log.head()
    tail = imgproc.popen("events", "tail", "--format", "jsonl", "--from-position", str(start))
    try:
        history.commands.request_processing(
            RequestProcessing(image_id=history.failed, spec="grayscale")
        )
        history.commands.delete(DeleteImage(image_id=history.failed))
        lines = read_lines(tail, 2)
    finally:
        tail.send_signal(signal.SIGINT)
        tail.wait(timeout=10)

    assert [decode(line) for line in lines] == history.everything()[start:]
    assert tail.stderr is not None
    assert (tail.returncode, tail.stderr.read()) == (0, b"")


def read_lines(process: subprocess.Popen[bytes], count: int, within: float = 20.0) -> list[bytes]:
    """The first `count` lines the process prints, as they come."""
    assert process.stdout is not None
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + within
        while received.count(b"\n") < count and time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                received += os.read(process.stdout.fileno(), 65536)
    lines = received.splitlines()
    assert len(lines) == count, f"got {lines!r}"
    return lines


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with tansu_broker() as bootstrap:
        yield bootstrap


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_republish_sends_a_range_of_the_log_again_as_the_relay_does(
    history: History, imgproc: Imgproc, broker: str
) -> None:
    topic = f"image-events-{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topic(broker, topic, 1))
    imgproc.env["IMGPROC_KAFKA_IDEMPOTENT"] = "false"  # the test broker has none

    result = imgproc(
        *["events", "republish", "--brokers", broker, "--topic", topic],
        *["--from-position", "3", "--to-position", "5"],
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == f"republished 3 events (positions 3 to 5) to {topic}\n"
    expected = [message(event) for event in history.everything()[2:5]]
    assert asyncio.run(messages_on(broker, topic, 3)) == expected


async def messages_on(broker: str, topic: str, count: int) -> list[tuple[bytes, bytes, list]]:
    reader = AIOKafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    await reader.start()
    try:
        partition = TopicPartition(topic, 0)
        reader.assign([partition])
        await reader.seek_to_beginning(partition)
        found: list[tuple[bytes, bytes, list]] = []
        deadline = time.monotonic() + 10
        while len(found) < count and time.monotonic() < deadline:
            batches = await reader.getmany(timeout_ms=200)
            found += [
                (r.key, r.value, list(r.headers)) for batch in batches.values() for r in batch
            ]
        return found
    finally:
        await reader.stop()
