"""Reading the whole event log fast, for bulk consumers (a rebuild, a verification).

The library's read builds a domain event from each row through its mapper, and
then our envelope from that: several Python objects and calls per event. Here
the database writes each row as the JSON of our public envelope, and msgspec
decodes a whole batch of them straight into `EventEnvelope`s in one call.

The stored state is the JSON the library's transcoder wrote: the event's
attributes and its timestamp (`{"_type_":"datetime_iso","_data_":…}`), without
the originator's id and version, which have columns of their own. So the
envelope is the row's columns and timestamp around the state, which becomes
`data` once a `type` tag is put in front of it (the fields our event data has
not got, such as the timestamp, are ignored by msgspec):

    {"type":T,"image_id":…,"version":…,"position":…,"occurred_at":…,"data":{"type":T,<state>}

- PostgreSQL streams the log with `COPY (SELECT …) TO STDOUT`: one statement, one
  snapshot, rows sent as fast as they are read. In COPY's text format a
  backslash is written twice, and nothing else of a one-line JSON text changes
  (JSON escapes every control character), so undoing that gives the JSON back.
- SQLite reads a batch per query, joined into one JSON array by the database.

Only events whose topic is one of ours, and stored as our events' current class
(no upcasting to do), have a type in the query; another type name makes a batch
fail to decode, and so does any row the query could not write (a state that is
not plain JSON, say). Such a batch is read again through the library's mapper.
With a compressor or a cipher configured, everything is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter
from typing import Any, Literal

import msgspec
from eventsourcing.utils import get_topic
from psycopg import sql

from domain.events import EVENT_TYPES, EventEnvelope

Dialect = Literal["sqlite", "postgresql"]
# The library's read, for a batch that cannot be decoded here: (after, limit) → events.
Fallback = Callable[[int, int], Sequence[EventEnvelope]]
# Opens a cursor on the event store: a context manager around one.
OpenCursor = Callable[[], Any]

_batch = msgspec.json.Decoder(list[EventEnvelope])
_by_position = attrgetter("position")


def event_topics(aggregate: type) -> dict[str, str]:
    """Topic → our event type name, for the aggregate's events that the library would
    hand over unchanged: those with no class version (nothing to upcast)."""
    topics = {}
    for name in EVENT_TYPES:
        cls = getattr(aggregate, name, None)
        if isinstance(cls, type) and getattr(cls, "class_version", 1) == 1:
            topics[get_topic(cls)] = name
    return topics


# How the library's transcoder starts every stored state: the event's timestamp first.
STAMPED = '{"timestamp":{"_type_":"datetime_iso","_data_":"'


def _envelope_sql(*, position: str, image_id: str, stamp: str, rest: str) -> str:
    """The SQL expression of one row's envelope JSON, given the SQL of its parts (`t` is
    the type name, `rest` the state after its opening brace); NULL if any part is."""
    return (
        f"""'{{"type":"' || t || '","image_id":"' || {image_id} """
        f"""|| '","version":' || originator_version || ',"position":' || {position} """
        f"""|| ',"occurred_at":"' || {stamp} || '","data":{{"type":"' || t """
        f"""|| '",' || {rest} || '}}'"""
    )


def _type_case(topics: dict[str, str], placeholder: str) -> tuple[str, list[str]]:
    """A CASE giving each topic's type name (anything else: the topic itself, which no
    envelope decodes), and its parameters."""
    whens = " ".join(f"WHEN {placeholder} THEN {placeholder}" for _ in topics)
    params = [value for pair in topics.items() for value in pair]
    return (f"CASE topic {whens} ELSE topic END" if topics else "topic"), params


class SqliteLogStream:
    """Batches of the log read from the library's SQLite event store, a query each."""

    def __init__(
        self, open_cursor: OpenCursor, table: str, topics: dict[str, str], fallback: Fallback
    ) -> None:
        self._open_cursor = open_cursor
        self._fallback = fallback
        type_name, self._type_params = _type_case(topics, "?")
        envelope = _envelope_sql(
            position="rowid",
            image_id="originator_id",
            stamp="json_extract(s, '$.timestamp._data_')",  # faster than cutting text here
            rest="substr(s, 2)",
        )
        # group_concat skips NULLs: the count says whether a row went missing.
        self._query = (
            f"SELECT '[' || group_concat(e, ',') || ']', count(*), max(p) FROM ("
            f"SELECT rowid AS p, {envelope} AS e FROM ("
            f"SELECT rowid, originator_id, originator_version, {type_name} AS t, "
            f"CAST(state AS TEXT) AS s FROM {table} WHERE rowid > ? AND rowid <= ? "
            "ORDER BY rowid LIMIT ?))"
        )

    def batches(self, after: int, size: int, up_to: int | None) -> Iterator[list[EventEnvelope]]:
        last = up_to if up_to is not None else 2**63 - 1
        while after < last:
            with self._open_cursor() as cursor:
                cursor.execute(self._query, [*self._type_params, after, last, size])
                text, count, end = cursor.fetchone()
            if not count:
                return
            batch = _decoded(text, count)
            if batch is not None:
                # In the subquery's order in practice, which SQLite does not promise.
                batch.sort(key=_by_position)
            else:
                batch = list(self._fallback(after, count))
            yield batch
            after = end


class PostgresLogStream:
    """The log streamed from the library's PostgreSQL event store by one COPY."""

    def __init__(
        self,
        open_connection: OpenCursor,
        schema: str,
        table: str,
        topics: dict[str, str],
        fallback: Fallback,
    ) -> None:
        self._open_connection = open_connection
        self._fallback = fallback
        type_name, self._type_params = _type_case(topics, "%s")
        # The stamp is the tenth of the state's strings; the rest is cut as bytes, which
        # is cheaper than cutting text (PostgreSQL counts characters then).
        envelope = _envelope_sql(
            position="notification_id",
            image_id="originator_id::text",
            stamp=f"CASE WHEN starts_with(s, '{STAMPED}') THEN split_part(s, '\"', 10) END",
            rest="convert_from(substr(state, 2), 'UTF8')",
        )
        # Composed rather than formatted: the envelope's braces are not placeholders.
        self._select = sql.Composed(
            [
                sql.SQL(
                    f"COPY (SELECT {envelope} FROM (SELECT notification_id, originator_id, "
                    f"originator_version, {type_name} AS t, state, "
                    "convert_from(state, 'UTF8') AS s FROM "
                ),
                sql.Identifier(schema, table),
                sql.SQL(
                    " WHERE notification_id > %s AND notification_id <= %s "
                    "ORDER BY notification_id) AS e) TO STDOUT"
                ),
            ]
        )

    def batches(self, after: int, size: int, up_to: int | None) -> Iterator[list[EventEnvelope]]:
        last = up_to if up_to is not None else 2**63 - 1
        params = [*self._type_params, after, last]
        with (
            self._open_connection() as connection,
            connection.cursor() as cursor,
            cursor.copy(self._select, params) as copy,
        ):
            rows: list[Any] = []
            # libpq hands over COPY data one row at a time.
            for row in copy:
                rows.append(row)
                if len(rows) == size:
                    batch = self._batch(after, rows)
                    yield batch
                    after, rows = batch[-1].position, []
            if rows:
                yield self._batch(after, rows)

    def _batch(self, after: int, rows: list[Any]) -> list[EventEnvelope]:
        text = b"".join(rows).replace(b"\\\\", b"\\")
        batch = _decoded(b"[" + text[:-1].replace(b"\n", b",") + b"]", len(rows))
        return batch if batch is not None else list(self._fallback(after, len(rows)))


def _decoded(text: str | bytes | None, count: int) -> list[EventEnvelope] | None:
    """The envelopes of a batch's JSON array; None if it is not `count` of them."""
    if text is None:
        return None
    try:
        batch = _batch.decode(text)
    except msgspec.DecodeError:  # ValidationError among them
        return None
    return batch if len(batch) == count else None
