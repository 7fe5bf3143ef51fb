"""The one paging layer: an iterator over each adapter's pages, with the guards every scan needs.

- ERP lists are keyset-paged: `fetch(cursor) -> Page(items, next_cursor)`; the scan ends at a page with
  no next cursor or no items. A cursor the ERP already gave in this scan, or more than `max_pages`
  pages, raises PagingStuck instead of looping for ever.
- WooCommerce lists are numbered pages: `fetch(page) -> (items, total_pages)` from page 1; the scan
  ends at the last page or an empty one, and raises PagingStuck past `max_pages`.
Also `chunked`, the one way to cut a list into calls of at most N items (N is the remote API's limit,
e.g. connector.woo.client.BATCH_LIMIT).
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence, TypeVar

from connector.erp.protocol import Page

MAX_PAGES = 100_000
SQL_IN_LIMIT = 500  # values per SQL `IN (...)`: far below SQLite's and PostgreSQL's parameter limits
T = TypeVar("T")


class PagingStuck(RuntimeError):
    """A scan that does not advance: a repeated cursor, or the page cap hit (a remote-side bug)."""


def erp_pages(fetch: Callable[[str | None], Page], cursor: str | None = None, *, name: str,
              max_pages: int = MAX_PAGES) -> Iterator[Page]:
    """Every page of a keyset-paged ERP list, from `cursor` (None: the start). The caller handles a page
    before the next one is fetched (so it may checkpoint `page.next_cursor` in between). Raises what
    `fetch` raises, and PagingStuck (mentioning `name`) when paging does not advance."""
    seen: set[str] = set()
    pages = 0
    while True:
        page = fetch(cursor)
        pages += 1
        yield page
        cursor = page.next_cursor
        if not cursor or not page.items:
            return
        if cursor in seen or pages >= max_pages:
            raise PagingStuck(f"{name}: paging does not advance (cursor repeated or page cap hit)")
        seen.add(cursor)


def woo_pages(fetch: Callable[[int], tuple[list, int]], *, name: str, max_pages: int = MAX_PAGES) -> Iterator[list]:
    """The items of every page of a numbered WooCommerce list (`fetch(page) -> (items, total_pages)`),
    one list per page. Raises what `fetch` raises, and PagingStuck past `max_pages` pages."""
    page = 1
    while True:
        items, pages = fetch(page)
        yield items
        if page >= pages or not items:
            return
        if page >= max_pages:
            raise PagingStuck(f"{name}: more than {max_pages} pages")
        page += 1


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """`items` in order, cut into lists of at most `size` (the last may be shorter; none when empty)."""
    for start in range(0, len(items), size):
        yield list(items[start:start + size])
