"""How a poll page is cut into apply chunks: ≤ 100 top-level writes each, a parent never apart from
its variants in the same page."""
from __future__ import annotations

from connector.sync.products import ProductSync


def simple(n: int) -> dict:
    return {"id": f"P-{n}", "sku": f"S-{n}"}


def family(n: int, variants: int) -> list[dict]:
    return [{"id": f"P-{n}", "sku": f"F-{n}", "is_parent": True}] + [
        {"id": f"P-{n}-{v}", "sku": f"F-{n}-{v}", "parent_id": f"P-{n}"} for v in range(variants)]


def chunks(items):
    return ProductSync(None, None, None).chunks(items)


def test_a_hundred_simple_products_make_one_chunk_and_the_next_one_starts_a_second():
    assert [len(c) for c in chunks([simple(i) for i in range(100)])] == [100]
    assert [len(c) for c in chunks([simple(i) for i in range(101)])] == [100, 1]


def test_variants_ride_with_their_parent_and_do_not_count_against_the_hundred():
    items = [simple(i) for i in range(99)] + family(1, 10) + family(2, 10)
    cut = chunks(items)
    assert [len(c) for c in cut] == [110, 11]  # 99 simple + parent 1 + its 10 variants | parent 2 + 10
    assert all(sku.startswith("F-2") for sku in cut[1])


def test_lone_variants_count_once_per_parent_they_need():
    items = [{"id": f"V-{i}", "sku": f"V-{i}", "parent_id": f"P-{i % 3}"} for i in range(30)]
    assert [len(c) for c in chunks(items)] == [30]  # three parents: three top-level writes
    many = [{"id": f"V-{i}", "sku": f"V-{i}", "parent_id": f"P-{i}"} for i in range(150)]
    assert [len(c) for c in chunks(many)] == [100, 50]
