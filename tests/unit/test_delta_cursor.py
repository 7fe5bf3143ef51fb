"""The delta poll's cursor against an in-memory ERP stream: the overlap window, checkpoints after each
page, resuming a crashed run where it stopped, a repeated cursor, and a watermark that only moves
forward to what was actually seen."""
from __future__ import annotations

import pytest

from connector.erp.protocol import Page
from connector.models import SyncCursor
from connector.paging import PagingStuck
from connector.sync.delta import DeltaPoll


class Stream:
    """A keyset-paged ERP list: records by (modified_at, id), `page_size` a page, cursor = last index."""

    def __init__(self, records: list[dict], page_size: int = 2):
        self.records, self.page_size, self.asked = records, page_size, []

    def fetch(self, since: str | None, cursor: str | None) -> Page:
        self.asked.append((since, cursor))
        rows = sorted((r for r in self.records if since is None or r["modified_at"] >= since),
                      key=lambda r: (r["modified_at"], r["id"]))
        start = int(cursor) if cursor else 0
        page = rows[start:start + self.page_size]
        more = start + self.page_size < len(rows)
        return Page(page, str(start + self.page_size) if more else None)


def rec(i: int, minute: int) -> dict:
    return {"id": f"P-{i}", "modified_at": f"2026-01-01T10:{minute:02d}:00.000Z"}


def poll(db, stream, dispatch, overlap=60):
    return DeltaPoll(db, "products", stream.fetch, dispatch, overlap_seconds=overlap)


def test_a_first_run_reads_everything_and_keeps_the_newest_timestamp_seen(db):
    stream, got = Stream([rec(1, 1), rec(2, 2), rec(3, 3)]), []
    report = poll(db, stream, got.extend).run()
    assert [r["id"] for r in got] == ["P-1", "P-2", "P-3"]
    assert (report.pages, report.records, report.watermark) == (2, 3, "2026-01-01T10:03:00.000Z")
    assert stream.asked == [(None, None), (None, "2")]


def test_the_next_run_reads_from_the_watermark_less_the_overlap_and_never_moves_it_back(db):
    stream = Stream([rec(1, 1), rec(2, 5)])
    poll(db, stream, lambda items: None).run()
    stream.asked.clear()
    stream.records.append(rec(3, 4))  # committed late with an older timestamp: inside the overlap
    got = []
    report = poll(db, stream, got.extend, overlap=120).run()
    assert stream.asked[0] == ("2026-01-01T10:03:00.000Z", None)
    assert {r["id"] for r in got} == {"P-2", "P-3"}
    assert report.watermark == "2026-01-01T10:05:00.000Z"


def test_a_run_that_crashes_resumes_after_its_last_checkpointed_page(db):
    stream = Stream([rec(i, i) for i in range(1, 6)])
    seen = []

    def dies_on_the_second_page(items):
        if items[0]["id"] == "P-3":
            raise ConnectionError("worker lost")
        seen.extend(items)
    with pytest.raises(ConnectionError):
        poll(db, stream, dies_on_the_second_page).run()
    stream.asked.clear()
    report = poll(db, stream, seen.extend).run()
    assert report.resumed and stream.asked[0] == (None, "2")  # page 1 is not read again
    assert [r["id"] for r in seen] == ["P-1", "P-2", "P-3", "P-4", "P-5"]
    assert report.watermark == "2026-01-01T10:05:00.000Z"


def test_a_repeated_cursor_fails_the_run_without_moving_the_watermark(db):
    class Looping(Stream):
        def fetch(self, since, cursor):
            page = super().fetch(since, cursor)
            return Page(page.items, "2") if cursor == "2" else page
    stream = Looping([rec(i, i) for i in range(1, 7)])
    with pytest.raises(PagingStuck):
        poll(db, stream, lambda items: None).run()
    with db.session() as s:
        assert s.get(SyncCursor, "products").watermark is None
    healthy = Stream([])
    assert poll(db, healthy, lambda items: None).run().resumed  # it resumes at the checkpoint, not past it


def test_each_page_is_checkpointed_after_it_is_handed_over_and_the_run_clears_it(db):
    """What a crash at any point would resume from: while a page is being handed over, the stored
    checkpoint is the page before it (its cursor, the run's `since` and newest timestamp so far), and the
    watermark has not moved; a finished run clears the checkpoint and moves the watermark."""
    stream = Stream([rec(i, i) for i in range(1, 6)], page_size=2)
    stored = []

    def note_checkpoint(items):
        with db.session() as s:
            c = s.get(SyncCursor, "products")
            stored.append((items[0]["id"], c.page_cursor, c.run_max_seen, c.watermark))
    poll(db, stream, note_checkpoint).run()
    assert stored == [("P-1", None, None, None),
                      ("P-3", "2", "2026-01-01T10:02:00.000Z", None),
                      ("P-5", "4", "2026-01-01T10:04:00.000Z", None)]
    with db.session() as s:
        c = s.get(SyncCursor, "products")
        assert (c.page_cursor, c.run_since, c.run_max_seen) == (None, None, None)
        assert c.watermark == "2026-01-01T10:05:00.000Z"
