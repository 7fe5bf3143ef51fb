"""A checkpointed delta poll over one keyset-paged ERP stream (products, inventory, shipments).

Each run asks for records modified since (watermark − overlap), hands every page to `dispatch`, and
checkpoints the page cursor after the page is dispatched, so a crash resumes at the last checkpoint.
The watermark moves only at the end of a complete run, to the newest `modified_at` actually seen
(never to "now"). One run per stream at a time, enforced by an expiring lease.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from connector import leases
from connector.db import Database, utcnow
from connector.erp.protocol import Page
from connector.logs import event
from connector.models import SyncCursor
from connector.paging import erp_pages

log = logging.getLogger("wooerp.delta")


@dataclass
class PollReport:
    """What one delta poll did: pages and records read, whether it `resumed` an interrupted run, whether it
    was `skipped` (another poll held the stream), and the stream's `watermark` after it (an ERP
    `modified_at`, ISO UTC; None: nothing read yet)."""
    stream: str
    pages: int = 0
    records: int = 0
    resumed: bool = False
    skipped: bool = False
    watermark: str | None = None

    def as_dict(self) -> dict:
        """The report as a plain dict (a task's JSON-able result)."""
        return self.__dict__.copy()


def parse_ts(value: str) -> datetime:
    """An ISO 8601 timestamp (`Z` or an offset; a naive one is taken as local time) as an aware UTC datetime;
    ValueError when it is not one."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def format_ts(value: datetime) -> str:
    """`value` as the ERP's timestamp format: UTC, milliseconds, `Z` ("2026-11-20T10:00:00.123Z"); sub-millisecond
    digits are cut."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def since_with_overlap(watermark: str | None, overlap_seconds: float) -> str | None:
    """The `modified_since` to ask for: `watermark` moved back by `overlap_seconds` (format_ts), so records
    committed late with an older stamp are read again; None (from the start) without a watermark."""
    if not watermark:
        return None
    return format_ts(parse_ts(watermark) - timedelta(seconds=overlap_seconds))


def completed_once(db: Database, stream: str) -> bool:
    """Whether `stream` has finished at least one full poll."""
    with db.session() as s:
        state = s.get(SyncCursor, stream)
        return state is not None and (state.last_success_at is not None or state.watermark is not None)


class DeltaPoll:
    """One checkpointed delta poll of `stream` (see the module docstring). `fetch(since, cursor)` reads one ERP
    page (an ErpAdapter `list_*` method); `dispatch(items)` handles a page's records before the next page
    is read and its cursor checkpointed; `overlap_seconds`: how far before the watermark each run starts;
    `lease_seconds`: how long the stream's lease outlives a dead poller."""
    def __init__(self, db: Database, stream: str, fetch: Callable[[str | None, str | None], Page],
                 dispatch: Callable[[list[dict]], None], *, overlap_seconds: float, lease_seconds: float = 120):
        self.db, self.stream, self.fetch, self.dispatch = db, stream, fetch, dispatch
        self.overlap_seconds = overlap_seconds
        self.lease_seconds = lease_seconds

    def run(self) -> PollReport:
        """Poll once; if another poll of this stream holds the lease, do nothing (the schedule comes again)."""
        name, owner = f"stream:{self.stream}", uuid.uuid4().hex
        if not leases.acquire(self.db, name, owner, self.lease_seconds):
            event(log, "delta poll skipped: another poll of this stream is running", stream=self.stream)
            return PollReport(self.stream, skipped=True)
        try:
            return self._run(owner)
        finally:
            leases.release(self.db, name, owner)

    def _run(self, owner: str) -> PollReport:
        state = self._state()
        report = PollReport(self.stream, resumed=bool(state.page_cursor))
        if state.page_cursor:
            since, cursor, max_seen = state.run_since, state.page_cursor, state.run_max_seen
        else:
            since, cursor, max_seen = since_with_overlap(state.watermark, self.overlap_seconds), None, None
        for page in erp_pages(lambda after: self.fetch(since, after), cursor, name=self.stream):
            if page.items:
                self.dispatch(page.items)
                newest = max(item["modified_at"] for item in page.items)
                max_seen = newest if max_seen is None or parse_ts(newest) > parse_ts(max_seen) else max_seen
            report.pages += 1
            report.records += len(page.items)
            self._checkpoint(since=since, cursor=page.next_cursor, max_seen=max_seen)
            leases.acquire(self.db, f"stream:{self.stream}", owner, self.lease_seconds)  # renew
        report.watermark = self._finish(max_seen)
        # a poll that found nothing newer than the last one is routine: logged at DEBUG, so an idle fleet is quiet
        news = report.resumed or report.watermark != state.watermark
        event(log, "delta poll finished", logging.INFO if news else logging.DEBUG, stream=self.stream,
              pages=report.pages, records=report.records, resumed=report.resumed, watermark=report.watermark)
        return report

    def _state(self) -> SyncCursor:
        with self.db.session() as s:
            state = s.get(SyncCursor, self.stream)
            if state is None:
                state = SyncCursor(stream=self.stream)
                s.add(state)
            return state

    def _checkpoint(self, *, since, cursor, max_seen) -> None:
        with self.db.session() as s:
            state = s.get(SyncCursor, self.stream)
            state.run_since, state.page_cursor, state.run_max_seen = since, cursor, max_seen

    def _finish(self, max_seen: str | None) -> str | None:
        with self.db.session() as s:
            state = s.get(SyncCursor, self.stream)
            if max_seen and (not state.watermark or parse_ts(max_seen) > parse_ts(state.watermark)):
                state.watermark = max_seen
            state.run_since = state.page_cursor = state.run_max_seen = None
            state.last_success_at = utcnow()
            state.last_error = None
            return state.watermark
