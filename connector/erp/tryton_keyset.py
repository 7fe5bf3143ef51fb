"""Keyset paging over Tryton records by their last change, the way the ERP protocol pages.

A Tryton record's last change is `coalesce(write_date, create_date)` (`write_date` stays empty until the
first write), which a JSON-RPC search cannot order by. So each model is read as two streams that can:
records never written, ordered by `create_date`, and records written, ordered by `write_date`, each with
the id as tie-breaker. Several models' streams are merged on (time, stream, id); the cursor is the key
of the last event handed out, so a record changed while a client pages moves behind the cursor and
comes again later, never skipped.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass

from connector.errors import PermanentError


@dataclass(frozen=True)
class Source:
    """One Tryton model to page over: records of `model` matching the extra search `domain`, read with
    `fields` (besides the id and dates) into each Event's `row`."""
    model: str
    domain: tuple = ()
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Event:
    """One record's last change, as handed out by `fetch`: `at` (naive UTC), the `stream` it came from
    (model × never-written/written), its id, model and the `row` read with it."""
    at: dt.datetime
    stream: int
    id: int
    model: str
    row: dict

    @property
    def key(self) -> tuple:
        """(at, stream, id): the total order events are merged and cursors are kept in."""
        return self.at, self.stream, self.id


def encode_cursor(event: Event) -> str:
    """The opaque cursor (URL-safe base64 JSON) that resumes paging after `event`."""
    raw = json.dumps([event.at.isoformat(), event.stream, event.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int, int]:
    """The (at, stream, id) key an `encode_cursor` cursor holds; PermanentError for anything else."""
    try:
        at, stream, record_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return dt.datetime.fromisoformat(at), int(stream), int(record_id)
    except (ValueError, TypeError):
        raise PermanentError(f"tryton: unknown cursor {cursor!r}") from None


def parse_since(value: str | None) -> dt.datetime | None:
    """`modified_since` (ISO 8601 UTC) as the naive UTC datetime Tryton compares with."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PermanentError(f"tryton: modified_since {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _after(field: str, stream: int, cursor: tuple | None) -> list:
    if cursor is None:
        return []
    at, c_stream, c_id = cursor
    if stream < c_stream:
        return [(field, ">", at)]
    if stream > c_stream:
        return [(field, ">=", at)]
    return [["OR", (field, ">", at), [(field, "=", at), ("id", ">", c_id)]]]


def fetch(rpc, sources: list[Source], since: str | None, cursor: str | None, limit: int,
          context: dict | None = None) -> tuple[list[Event], bool]:
    """The next events after `cursor`, merged in key order, and whether more may follow them.

    Each stream returns at most `limit` rows, so the first `limit` merged events are exact; a caller
    that hands out fewer (to keep a page small) builds its cursor from the last one it used."""
    after = decode_cursor(cursor) if cursor else None
    start = parse_since(since)
    events: list[Event] = []
    more = False
    for index, source in enumerate(sources):
        for half, (field, written) in enumerate((("create_date", "="), ("write_date", "!="))):
            stream = 2 * index + half
            domain = [*source.domain, ("write_date", written, None), *_after(field, stream, after)]
            if start is not None:
                domain.append((field, ">=", start))
            rows = rpc.model(source.model, "search_read", domain, 0, limit, [[field, "ASC"], ["id", "ASC"]],
                             sorted({"id", "create_date", "write_date", *source.fields}), context=context)
            more |= len(rows) >= limit
            events += [Event(row[field], stream, row["id"], source.model, row) for row in rows]
    events.sort(key=lambda e: e.key)
    return events[:limit], more or len(events) > limit


def last_change(*rows: dict) -> dt.datetime:
    """The latest of the rows' write or create dates."""
    return max(row.get("write_date") or row["create_date"] for row in rows)


def timestamp(value: dt.datetime | dt.date | None) -> str | None:
    """A Tryton (naive UTC) datetime or date as the protocol's ISO 8601 UTC string with milliseconds."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
