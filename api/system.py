"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from litestar import get

from api.deps import ApiServices, Services, in_thread
from api.problems import problem_responses
from api.schemas import Health, Readiness
from infra.errors import DependencyUnavailable

log = logging.getLogger(__name__)

# Any id will do: the read model only has to answer a lookup.
_PROBE_ID = UUID(int=0)


@get("/health", operation_id="health", tags=["system"])
async def health() -> Health:
    """Liveness: the process answers HTTP."""
    return Health("ok")


@get(
    "/ready",
    operation_id="ready",
    tags=["system"],
    responses=problem_responses({503: "A dependency is down (named in `dependency`)"}),
)
async def ready(services: Services) -> Readiness:
    """Readiness: the blob store, the read model and the event store all answer."""
    calls = _checks(services)
    # Concurrently: a dead dependency costs its own timeout once, not one per check.
    states = await asyncio.gather(*(_check(name, call) for name, call in calls.items()))
    checks = dict(zip(calls, states, strict=True))
    down = [name for name, state in checks.items() if state != "ok"]
    if down:
        raise DependencyUnavailable(", ".join(down))
    return Readiness("ready", checks)


def _checks(services: ApiServices) -> dict[str, Callable[[], Awaitable[object]]]:
    return {
        "blob store": services.blobs.check,
        "read model": lambda: services.queries.get(_PROBE_ID),
        "event store": lambda: in_thread(services.log.head),
    }


async def _check(name: str, call: Callable[[], Awaitable[object]]) -> str:
    try:
        await call()
    except Exception as e:
        log.warning("readiness: %s is down: %s", name, e)
        return "unavailable"
    return "ok"
