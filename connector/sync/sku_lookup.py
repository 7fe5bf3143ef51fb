"""Reading ERP products back by SKU without ever joining an identifier into a list query unchecked.

`GET /products?sku=A,B,C` splits on the separator, so a SKU that contains it (`A,B`) cannot be asked
for in that list: it is read by its ERP id instead (the id the poll saw, or the one our mapping holds), or,
with no id known yet, found by reading the ERP's product list (scan_for).
Callers compare what they asked for with what came back (`missing`), so nothing is dropped silently.
"""
from __future__ import annotations

from connector import binding
from connector.db import Database
from connector.errors import PermanentError
from connector.paging import chunked, erp_pages

SEPARATOR = ","
LOOKUP_LIMIT = 100


def listable(sku: str) -> bool:
    """Whether `sku` may go into a `?sku=` list (no separator, no surrounding blanks that get stripped)."""
    return SEPARATOR not in sku and sku == sku.strip()


def known_ids(db: Database, skus: list[str]) -> dict[str, str]:
    """ERP ids our mapping holds for `skus` (products and variations)."""
    return {sku: b.erp_id for sku, b in binding.by_sku(db, skus).items()}


def erp_products(db: Database, erp, skus: list[str], ids: dict[str, str] | None = None) -> list[dict]:
    """The ERP records holding exactly `skus`: listable ones by `?sku=` (≤ 100 per call), the others one by
    one by ERP id (from `ids`, else our mapping). Records not found are absent; see `missing`."""
    wanted = sorted(set(skus))
    plain = [s for s in wanted if listable(s)]
    records = [r for chunk in chunked(plain, LOOKUP_LIMIT) for r in erp.products_by_sku(chunk)]
    others = [s for s in wanted if not listable(s)]
    if others:
        by_id = dict(known_ids(db, others), **(ids or {}))
        unmapped = {sku for sku in others if sku not in by_id}
        if unmapped:
            records += scan_for(erp, unmapped)
        for sku in others:
            if sku not in by_id:
                continue
            try:
                record = erp.get_product(by_id[sku])
            except PermanentError as e:
                if e.status != 404:
                    raise
                continue
            if record.get("sku") == sku:
                records.append(record)
    want = set(wanted)
    return [r for r in records if r.get("sku") in want]


def scan_for(erp, skus: set[str]) -> list[dict]:
    """The ERP records of `skus` that cannot be listed and have no known ERP id (e.g. an order line whose
    shop product predates the catalog sync): read the ERP's product list from its start until every one is
    found or the list ends. Costly on a large catalog, so only for this rare kind of SKU; once the catalog
    sync maps it, it is read by id."""
    found: list[dict] = []
    left = set(skus)
    for page in erp_pages(lambda cursor: erp.list_products(None, cursor, 500), name="products by SKU"):
        for record in page.items:
            if record.get("sku") in left:
                found.append(record)
                left.discard(record["sku"])
        if not left:
            break
    return found


def missing(asked: list[str], records: list[dict]) -> list[str]:
    """The SKUs of `asked` that no record in `records` holds, sorted (what a lookup did not find)."""
    got = {r.get("sku") for r in records}
    return sorted(set(asked) - got)
