"""Writing a chunk of ERP products (≤ 100 SKUs) into WooCommerce through the batch endpoints.

Recipe: re-read the SKUs from the ERP → quarantine invalid records → map → skip what is unchanged by
hash → link unmapped records to existing Woo products by SKU (one lookup per chunk) → one batch call
for simple products → one batch call for new parents (created with their attributes) and one for
parents whose attributes gained options → one batch call per parent for its variations (WooCommerce
writes variations only under their parent) → bind each result right after the batch answer.
Stock is not decided here: before each batch the stock owner (connector/sync/inventory.py) is asked for
the stock fields the batch must carry (a new product is created with its stock, so it costs no separate
stock write) and is told what the shop accepted. Per-item errors are handled item by item.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from connector import binding, leases
from connector.binding import PRODUCT, VARIATION
from connector.db import Database, utcnow
from connector.errors import Busy, InvalidDataError, TransientError
from connector.logs import event
from connector.mapping import products as mapping
from connector.paging import chunked
from connector.sync import sku_lookup
from connector.woo.client import BATCH_LIMIT, PAGE_LIMIT

log = logging.getLogger("wooerp.products")
PARENT_LEASE_SECONDS = 120
GTIN_REFUSED = "product_invalid_global_unique_id"
GONE_CODES = {"woocommerce_rest_product_invalid_id", "woocommerce_rest_product_variation_invalid_id",
              "woocommerce_rest_invalid_product_id"}


@dataclass
class ProductReport:
    """What one apply did: records created, updated, left unchanged (same hash, no stock change) and
    linked to an existing shop product by SKU; {SKU or ERP id: reason} quarantined; Woo write calls made."""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: int = 0
    quarantined: dict = field(default_factory=dict)
    write_calls: int = 0

    def as_dict(self) -> dict:
        """The counts and the quarantined {SKU: reason} as a plain dict (a task's JSON result)."""
        return self.__dict__.copy()


@dataclass
class _Item:
    """One record on its way into a batch: the hashed payload, and extras sent but not hashed
    (`erp_id` None: a raw update that belongs to no record)."""
    erp_id: str | None
    payload: dict
    digest: str
    extra: dict = field(default_factory=dict)

    def body(self, woo_id: int | None = None, merge_only: bool = False) -> dict:
        """The JSON sent; `merge_only` leaves out extras that would replace what a product already has
        (a parent's attribute list: options are merged into an existing product, never replaced)."""
        extra = {k: v for k, v in self.extra.items() if not (merge_only and k == "attributes")}
        body = dict(self.payload, **extra)
        return body if woo_id is None else dict(body, id=woo_id)


class _NoStock:
    """The stock owner of a ProductSync built without one: products are written without stock."""

    def fields_for_write(self, bound: dict[str, int], new) -> dict[str, dict]:
        return {}

    def written(self, accepted) -> None:
        pass


class ProductSync:
    """ERP products into the shop `woo` (a ShopPort), read from `erp` (an ErpAdapter). `inventory` (an
    InventorySync) decides the stock each write carries; without it products go without stock.
    `categories` (a CategorySync) gives the shop category of a product's `category_code`."""

    def __init__(self, db: Database, woo, erp, inventory=None, categories=None):
        self.db, self.woo, self.erp = db, woo, erp
        self.stock = inventory if inventory is not None else _NoStock()
        self.categories = categories

    def unseen(self, items: list[dict]) -> list[dict]:
        """The records of a poll page (ErpProduct dicts) not already written at their `modified_at` (the
        overlap re-reads them), in page order. Reads our database only."""
        done = {}
        for kind in (PRODUCT, VARIATION):
            for b in binding.get(self.db, kind, [i["id"] for i in items]).values():
                if b.sync_hash and b.erp_modified_at:
                    done[b.erp_id] = b.erp_modified_at
        return [i for i in items if done.get(i["id"]) != i.get("modified_at")]

    def new_to_shop(self, items: list[dict]) -> bool:
        """Whether writing these records (ErpProduct dicts) creates a shop product: some are bound to no
        shop record yet. Reads our database only."""
        ids = [i["id"] for i in items]
        in_shop: set[str] = set()
        for kind in (PRODUCT, VARIATION):
            in_shop |= {erp_id for erp_id, b in binding.get(self.db, kind, ids).items() if b.woo_id is not None}
        return any(erp_id not in in_shop for erp_id in ids)

    def triage(self, items: list[dict]) -> list[str]:
        """The SKUs of a poll page (ErpProduct dicts) worth applying, sorted and unique: records already
        written at this `modified_at` are skipped, and records without a SKU (which cannot be fetched
        back) are quarantined here. Reads and writes our database only."""
        report = ProductReport()
        for item in items:
            if not str(item.get("sku") or "").strip():
                self._quarantine(VARIATION if item.get("parent_id") else PRODUCT, item,
                                 f"ERP product {item.get('id')}: has no SKU", report)
        return sorted({i["sku"] for i in self.unseen(items) if str(i.get("sku") or "").strip()})

    def chunks(self, items: list[dict]) -> list[list[str]]:
        """Split triaged records (ErpProduct dicts, each with a `sku`) into apply chunks of SKUs: at most
        BATCH_LIMIT top-level writes each (simple products, parents, and parents of lone variants), with
        every variant of a parent in the chunk of that parent, so a chunk costs one products batch plus
        one variations batch per parent. Pure: no I/O."""
        chunks: list[list[str]] = []
        current: list[str] = []
        weight, parents_in = 0, set()
        for item in items:
            parent = item.get("parent_id")
            grows = 0 if parent and parent in parents_in else 1
            if weight + grows > BATCH_LIMIT:
                chunks.append(current)
                current, weight, parents_in = [], 0, set()
                grows = 1
            current.append(item["sku"])
            weight += grows
            parents_in.add(parent or item["id"])
        if current:
            chunks.append(current)
        return chunks

    def apply(self, skus: list[str], ids: dict[str, str] | None = None) -> ProductReport:
        """Re-read `skus` from the ERP (`ids`: {SKU: ERP id} as the poll saw them, for SKUs that cannot be
        listed) and write them to the shop, with the stock the stock owner asks for; a SKU asked for and
        not returned is quarantined with the reason. Invalid records and per-item refusals by the shop
        are quarantined, never raised. Raises Busy (retry_after 1 s) when another chunk holds
        one of the parents, and the ErpAdapter's and ShopPort's error families."""
        wanted = sorted(set(skus))
        records = sku_lookup.erp_products(self.db, self.erp, wanted, ids)
        lost = ProductReport()
        for sku in sku_lookup.missing(wanted, records):
            erp_id = (ids or {}).get(sku) or sku_lookup.known_ids(self.db, [sku]).get(sku)
            reason = (f"ERP product {sku}: asked for by SKU and not returned by the ERP "
                      f"({len(records)} of {len(wanted)} came back)")
            if erp_id:
                self._quarantine(PRODUCT, {"id": erp_id, "sku": sku}, reason, lost)
            else:
                event(log, "product not returned by the ERP", logging.WARNING, sku=sku, reason=reason)
        by_parent: dict[str, list[dict]] = defaultdict(list)
        tops = []
        for r in records:
            (by_parent[r["parent_id"]] if r.get("parent_id") else tops).append(r)
        parent_ids = set(by_parent) | {r["id"] for r in tops if r.get("is_parent")}
        with self._parents_held(sorted(parent_ids)) as renew:
            report = self._apply(tops, by_parent, renew)
        report.quarantined.update(lost.quarantined)
        return report

    @contextmanager
    def _parents_held(self, parent_ids: list[str]):
        """Hold every parent of the chunk: two chunks with variants of one parent would otherwise both
        create it, or overwrite each other's attribute options. Held elsewhere → Busy (retried).
        Yields `renew()`, which extends the hold when a third of it has passed."""
        owner, got = uuid.uuid4().hex, []
        renewed = [time.monotonic()]

        def renew() -> None:
            if time.monotonic() - renewed[0] > PARENT_LEASE_SECONDS / 3:
                for erp_id in got:
                    leases.acquire(self.db, f"parent:{erp_id}", owner, PARENT_LEASE_SECONDS)
                renewed[0] = time.monotonic()
        try:
            for erp_id in parent_ids:
                if not leases.acquire(self.db, f"parent:{erp_id}", owner, PARENT_LEASE_SECONDS):
                    raise Busy(f"parent {erp_id} is being written by another chunk", retry_after=1)
                got.append(erp_id)
            yield renew
        finally:
            for erp_id in got:
                leases.release(self.db, f"parent:{erp_id}", owner)

    def _apply(self, tops: list[dict], by_parent: dict[str, list[dict]], renew=lambda: None) -> ProductReport:
        """One products batch for simple products, new parents (with their attributes) and attribute
        options new to existing parents; then one variations batch per parent."""
        report = ProductReport()
        bound, merges = self._parents_in_shop(by_parent)
        top_ids = {r["id"] for r in tops}
        fetched = [self.erp.get_product(erp_id) for erp_id in sorted(set(by_parent) - set(bound) - top_ids)]
        self._write(PRODUCT, None, tops + fetched, report,
                    {erp_id: {"attributes": mapping.parent_attributes(variants)}
                     for erp_id, variants in by_parent.items() if erp_id not in bound}, merges)
        unbound = {erp_id: variants for erp_id, variants in by_parent.items() if erp_id not in bound}
        if unbound:  # parents created just now have their options; parents linked by SKU may lack some
            linked, merges = self._parents_in_shop(unbound)
            if merges:
                self.woo.batch_products(update=merges)
                report.write_calls += 1
            bound.update(linked)
        for parent_erp_id, variants in sorted(by_parent.items()):
            renew()
            if bound.get(parent_erp_id) is None:
                for v in variants:
                    self._quarantine(VARIATION, v, f"parent {parent_erp_id} could not be written", report)
            else:
                self._write(VARIATION, bound[parent_erp_id], variants, report)
        wrote = report.created or report.updated or report.linked or report.quarantined or report.write_calls
        event(log, "products applied", logging.INFO if wrote else logging.DEBUG,
              **{k: v for k, v in report.as_dict().items() if k != "quarantined"}, quarantined=len(report.quarantined))
        return report

    # -- parents -------------------------------------------------------------------------------------
    def _parents_in_shop(self, by_parent: dict[str, list[dict]]) -> tuple[dict[str, int], list[dict]]:
        """Woo ids of the variants' parents that are in the shop (one read for all of them), and the
        attribute updates that add the options their variants need."""
        bound = {erp_id: b.woo_id for erp_id, b in binding.get(self.db, PRODUCT, list(by_parent)).items()
                 if b.woo_id is not None}
        shop = {}
        ids = list(bound.values())
        for chunk in chunked(ids, PAGE_LIMIT):
            shop.update({p["id"]: p for p in self.woo.products_by_id(chunk)})
        merges = []
        for erp_id, woo_id in list(bound.items()):
            if woo_id not in shop:  # deleted in the shop: created again with the chunk's products
                binding.unbind(self.db, PRODUCT, erp_id)
                del bound[erp_id]
                continue
            merged = _merge_attributes(shop[woo_id].get("attributes") or [],
                                       mapping.parent_attributes(by_parent[erp_id]))
            if merged is not None:
                merges.append({"id": woo_id, "attributes": merged})
        return bound, merges

    # -- one batch round -----------------------------------------------------------------------------
    def _write(self, kind: str, parent_woo_id: int | None, records: list[dict], report: ProductReport,
               create_extras: dict[str, dict] | None = None, raw_updates: list[dict] = ()) -> None:
        """Map, hash, link and batch-write `records`; `create_extras` are sent (unhashed) with creates
        only; `raw_updates` (bodies with an id, not bound to a record) ride along in the same calls."""
        create_extras = create_extras or {}
        items: dict[str, _Item] = {}
        shop_categories = self.categories.woo_ids(r.get("category_code") for r in records) \
            if self.categories is not None and kind == PRODUCT else {}
        for r in records:
            try:
                payload = mapping.map_product(r)
            except InvalidDataError as e:
                self._quarantine(kind, r, str(e), report)
                continue
            if r.get("category_code") in shop_categories:  # a code the shop has no category for yet: left as is
                payload["categories"] = [{"id": shop_categories[r["category_code"]]}]
            items[r["id"]] = _Item(r["id"], payload, mapping.payload_hash(payload))
        bindings = binding.get(self.db, kind, list(items))
        records_by_id = {r["id"]: r for r in records}
        unbound = [i for i in items if bindings.get(i) is None or bindings[i].woo_id is None]
        existing = self._existing_by_sku([items[i].payload["sku"] for i in unbound])
        creates, updates = [], []
        for erp_id, item in items.items():
            b = bindings.get(erp_id)
            if b is not None and b.woo_id is not None:
                updates.append((item, b.woo_id))
            elif item.payload["sku"] in existing:
                woo_id = existing[item.payload["sku"]]
                self._bind(kind, records_by_id[erp_id], woo_id, parent_woo_id, None)
                report.linked += 1
                updates.append((item, woo_id))
            else:
                creates.append(item)
        # one call, so one read of rows, last writes and holds per batch
        stock = self.stock.fields_for_write({i.payload["sku"]: w for i, w in updates},
                                            [i.payload["sku"] for i in creates])
        changed = []
        for item, woo_id in updates:
            b = bindings.get(item.erp_id)
            fields = stock.get(item.payload["sku"])
            item.extra.update(fields or {})
            if b is not None and b.sync_hash == item.digest and b.woo_id == woo_id and not fields:
                report.unchanged += 1
                if b.erp_modified_at != records_by_id[item.erp_id].get("modified_at"):
                    self._bind(kind, records_by_id[item.erp_id], woo_id, parent_woo_id, item.digest)
            else:
                changed.append((item, woo_id))
        for item in creates:
            item.extra.update(create_extras.get(item.erp_id, {}))
            item.extra.update(stock.get(item.payload["sku"]) or {})
        work = [(item, None) for item in creates] + changed + [(_Item(None, body, ""), body["id"]) for body in raw_updates]
        for chunk in chunked(work, BATCH_LIMIT):
            self._send(kind, parent_woo_id, chunk, records_by_id, report)

    def _send(self, kind, parent_woo_id, window: list[tuple[_Item, int | None]], records_by_id, report) -> None:
        creates = [item for item, woo_id in window if woo_id is None]
        updates = [(item, woo_id) for item, woo_id in window if woo_id is not None]
        create_bodies, update_bodies = [i.body() for i in creates], [i.body(w) for i, w in updates]
        if kind == PRODUCT:
            answer = self.woo.batch_products(create=create_bodies, update=update_bodies)
        else:
            answer = self.woo.batch_variations(parent_woo_id, create=create_bodies, update=update_bodies)
        report.write_calls += 1
        relink, written_stock, gtin_refused = [], [], []
        for item, result in zip(creates, answer.get("create", [])):
            record = records_by_id[item.erp_id]
            error = result.get("error")
            if error and error.get("code") == GTIN_REFUSED and item.payload.get("global_unique_id"):
                gtin_refused.append((item, None))
            elif not error:
                self._bind(kind, record, result["id"], parent_woo_id, item.digest)
                written_stock.append((item, result["id"]))
                report.created += 1
            elif error.get("code") == "product_invalid_sku" and (error.get("data") or {}).get("resource_id"):
                woo_id = error["data"]["resource_id"]
                self._bind(kind, record, woo_id, parent_woo_id, None)
                report.linked += 1
                relink.append((item, woo_id))
            else:
                self._quarantine(kind, record, f"WooCommerce refused {item.payload['sku']}: {error.get('code')} "
                                               f"{error.get('message')}", report)
        for (item, _woo_id), result in zip(updates, answer.get("update", [])):
            error = result.get("error")
            if item.erp_id is None:  # a raw update (a parent's attributes): nothing to bind
                if error:
                    event(log, "product update refused", logging.WARNING, woo_id=_woo_id, error=error.get("code"))
                continue
            record = records_by_id[item.erp_id]
            if error and error.get("code") == GTIN_REFUSED and item.payload.get("global_unique_id"):
                gtin_refused.append((item, _woo_id))
            elif not error:
                self._bind(kind, record, result["id"], parent_woo_id, item.digest)
                written_stock.append((item, result["id"]))
                report.updated += 1
            elif error.get("code") in GONE_CODES:
                binding.unbind(self.db, kind, item.erp_id)  # deleted in Woo: the next poll creates it again
            else:
                self._quarantine(kind, record, f"WooCommerce refused {item.payload['sku']}: {error.get('code')} "
                                               f"{error.get('message')}", report)
        self._stock_written(written_stock)
        if relink:  # SKUs that already existed: write our data onto them
            bodies = [item.body(woo_id, merge_only=True) for item, woo_id in relink]
            answer = (self.woo.batch_products(update=bodies) if kind == PRODUCT
                      else self.woo.batch_variations(parent_woo_id, update=bodies))
            report.write_calls += 1
            done = []
            for (item, woo_id), result in zip(relink, answer.get("update", [])):
                if not result.get("error"):  # the hash is set only once our data is on the product
                    self._bind(kind, records_by_id[item.erp_id], woo_id, parent_woo_id, item.digest)
                    done.append((item, woo_id))
            self._stock_written(done)
        if gtin_refused:  # a GTIN the shop refuses (in use by another product, malformed) must not keep the
            # product out of the shop: it goes without it (the EAN stays in the meta) until the ERP's EAN changes
            for item, _woo_id in gtin_refused:
                event(log, "WooCommerce refused the GTIN; product written without it", logging.WARNING,
                      sku=item.payload.get("sku"), gtin=item.payload.get("global_unique_id"))
            self._send(kind, parent_woo_id, [(_Item(i.erp_id, {k: v for k, v in i.payload.items()
                                                               if k != "global_unique_id"}, i.digest, i.extra), w)
                                             for i, w in gtin_refused], records_by_id, report)

    def _stock_written(self, written: list[tuple[_Item, int]]) -> None:
        """Tell the stock owner what the shop accepted (it keeps the stock figures these bodies carried)."""
        self.stock.written([(i.payload["sku"], woo_id, i.extra) for i, woo_id in written])

    # -- linking (bindings: connector.binding) ------------------------------------------------------------
    def _existing_by_sku(self, skus: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in chunked(skus, PAGE_LIMIT):
            for p in self.woo.products_by_sku(chunk):
                if p.get("sku"):
                    found[p["sku"]] = p["id"]
        return found

    def _bind(self, kind, record, woo_id, parent_woo_id, digest) -> None:
        binding.upsert(self.db, kind, {record["id"]: dict(
            sku=record.get("sku"), woo_id=woo_id, woo_parent_id=parent_woo_id, sync_hash=digest,
            erp_modified_at=record.get("modified_at") if digest else None, last_synced_at=utcnow(),
            quarantine_reason=None)})

    def _quarantine(self, kind: str, record: dict, reason: str, report: ProductReport) -> None:
        binding.upsert(self.db, kind, {record["id"]: dict(sku=record.get("sku"), quarantine_reason=reason,
                                                          sync_hash=None)})
        report.quarantined[record.get("sku") or record.get("id")] = reason
        event(log, "product quarantined", logging.WARNING, erp_id=record.get("id"), reason=reason)


def _merge_attributes(current: list[dict], wanted: list[dict]) -> list[dict] | None:
    """The parent's attributes with the wanted options added, or None when nothing is missing."""
    have = {a["name"]: list(a.get("options") or []) for a in current}
    merged, changed = [], False
    for attr in wanted:
        options = have.get(attr["name"], [])
        missing = [o for o in attr["options"] if o not in options]
        changed |= bool(missing) or attr["name"] not in have
        merged.append(dict(attr, options=options + missing))
    if not changed:
        return None
    names = {a["name"] for a in merged}
    return [a for a in current if a["name"] not in names] + merged
