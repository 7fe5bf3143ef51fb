"""Reading ERP products back by SKU without ever joining an identifier into a list query unchecked.

`GET /products?sku=A,B,C` splits on the separator, so a SKU that contains it (`A,B`) cannot be asked
for in that list: it is read by its ERP id instead (the id the poll saw, or the one our mapping holds).
Callers compare what they asked for with what came back (`missing`), so nothing is dropped silently.
"""
from __future__ import annotations

from connector import binding
from connector.db import Database
from connector.errors import PermanentError
from connector.paging import chunked

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


def missing(asked: list[str], records: list[dict]) -> list[str]:
    got = {r.get("sku") for r in records}
    return sorted(set(asked) - got)
