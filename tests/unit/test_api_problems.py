"""Every error is a problem document; the service describes itself and its health."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.fakes import FakePorts
from tests.unit.client import PROBLEM, assert_problem

MEMBERS = {"type", "title", "status", "detail", "instance"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/route", 404),
        ("PUT", "/api/v1/images", 405),
        ("GET", "/api/v1/images?limit=0", 400),
    ],
    ids=["unknown route", "wrong method", "validation"],
)
async def test_the_frameworks_own_errors_are_problems(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)

    assert_problem(response, status)
    problem = response.json()
    assert problem.keys() >= MEMBERS
    assert problem["status"] == status
    assert problem["instance"] == path.split("?")[0]


async def test_a_validation_problem_lists_what_was_wrong(client: httpx.AsyncClient) -> None:
    problem = (await client.get("/api/v1/images?limit=0")).json()

    assert any(error.get("key") == "limit" for error in problem["errors"])


async def test_an_unexpected_error_is_a_500_problem_without_a_traceback(
    client: httpx.AsyncClient,
    ports: FakePorts,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("secret internals at 0xdeadbeef")

    monkeypatch.setattr(ports.read_model, "get", broken)

    with caplog.at_level(logging.ERROR):
        response = await client.get("/api/v1/images/00000000-0000-0000-0000-000000000001/status")

    assert_problem(response, 500)
    assert response.json().keys() >= MEMBERS
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert "secret internals" in caplog.text, "the cause is logged"


async def test_the_openapi_document_describes_every_operation(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")

    assert response.status_code == 200
    document = response.json()
    operations = {
        operation["operationId"]: operation
        for path in document["paths"].values()
        for operation in path.values()
    }
    assert set(operations) >= {
        "uploadImage",
        "listImages",
        "getImage",
        "getOriginal",
        "getImageStatus",
        "processImage",
        "deleteImage",
        "getImageEvents",
        "health",
        "ready",
    }
    assert "processing spec" in operations["uploadImage"]["description"]
    assert PROBLEM in operations["uploadImage"]["responses"]["415"]["content"]
    assert (await client.get("/schema")).status_code == 200


async def test_health_answers_while_the_process_runs(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_ready_checks_every_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"blob store": "ok", "read model": "ok", "event store": "ok"},
    }


async def test_not_ready_while_a_dependency_is_down(
    client: httpx.AsyncClient, ports: FakePorts
) -> None:
    ports.blobs.failing = {"check"}

    response = await client.get("/ready")

    assert_problem(response, 503)
    assert response.json()["dependency"] == "blob store"
