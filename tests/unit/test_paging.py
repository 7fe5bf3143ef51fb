"""The one paging layer: ERP keyset pages and Woo numbered pages end where the remote says, and a
scan that does not advance fails instead of looping; chunks keep order and respect the limit."""
from __future__ import annotations

import pytest

from connector.erp.protocol import Page
from connector.paging import PagingStuck, chunked, erp_pages, woo_pages


def keyset(pages: dict):
    """A fake ERP list: cursor → Page; records the cursors asked for."""
    asked = []

    def fetch(cursor):
        asked.append(cursor)
        return pages[cursor]
    return fetch, asked


def test_erp_pages_follow_the_cursor_to_the_last_page():
    fetch, asked = keyset({None: Page([{"id": 1}], "a"), "a": Page([{"id": 2}], "b"), "b": Page([{"id": 3}], None)})
    assert [p.items[0]["id"] for p in erp_pages(fetch, name="products")] == [1, 2, 3]
    assert asked == [None, "a", "b"]


def test_erp_pages_stop_at_an_empty_page_even_with_a_cursor():
    fetch, asked = keyset({None: Page([{"id": 1}], "a"), "a": Page([], "b")})
    assert len(list(erp_pages(fetch, name="products"))) == 2
    assert asked == [None, "a"]


def test_erp_pages_resume_from_a_stored_cursor():
    fetch, asked = keyset({"b": Page([{"id": 3}], None)})
    assert [p.items for p in erp_pages(fetch, "b", name="products")] == [[{"id": 3}]]
    assert asked == ["b"]


def test_a_repeated_cursor_fails_the_scan_after_the_pages_before_it_were_handed_out():
    fetch, _ = keyset({None: Page([{"id": 1}], "a"), "a": Page([{"id": 2}], "b"), "b": Page([{"id": 3}], "a")})
    handled = []
    with pytest.raises(PagingStuck, match="inventory: paging does not advance"):
        for page in erp_pages(fetch, name="inventory"):
            handled.append(page.items[0]["id"])
    assert handled == [1, 2, 3]


def test_the_page_cap_fails_a_scan_that_never_ends():
    with pytest.raises(PagingStuck):
        list(erp_pages(lambda cursor: Page([{"id": 1}], f"{cursor}x"), name="products", max_pages=5))


def test_woo_pages_read_up_to_the_total_the_shop_announces():
    asked = []

    def fetch(page):
        asked.append(page)
        return [page], 3
    assert list(woo_pages(fetch, name="orders")) == [[1], [2], [3]]
    assert asked == [1, 2, 3]


def test_woo_pages_stop_at_an_empty_page_and_fail_past_the_cap():
    assert list(woo_pages(lambda page: ([], 9), name="orders")) == [[]]
    with pytest.raises(PagingStuck):
        list(woo_pages(lambda page: ([page], 10**9), name="orders", max_pages=4))


@pytest.mark.parametrize("n", [0, 1, 99, 100, 101, 250])
def test_chunks_keep_order_and_never_exceed_the_limit(n):
    items = list(range(n))
    chunks = list(chunked(items, 100))
    assert [x for c in chunks for x in c] == items
    assert all(0 < len(c) <= 100 for c in chunks)
    assert len(chunks) == -(-n // 100)
