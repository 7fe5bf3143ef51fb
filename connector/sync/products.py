"""Writing a chunk of ERP products (≤ 100 SKUs) into WooCommerce through the batch endpoints.

Recipe: re-read the SKUs from the ERP → quarantine invalid records → map → skip what is unchanged by
hash → link unmapped records to existing Woo products by SKU (one lookup per chunk) → one batch call
for simple products and parents → one batch call per parent for its variations → bind each result
right after the batch answer. Per-item errors are handled item by item.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from connector.db import Database, utcnow
from connector.errors import InvalidDataError
from connector.logs import event
from connector.mapping import products as mapping
from connector.models import EntityMapping
from connector.woo.client import BATCH_LIMIT

log = logging.getLogger("wooerp.products")
PRODUCT, VARIATION = "product", "variation"
GONE_CODES = {"woocommerce_rest_product_invalid_id", "woocommerce_rest_product_variation_invalid_id",
              "woocommerce_rest_invalid_product_id"}


@dataclass
class ProductReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: int = 0
    quarantined: dict = field(default_factory=dict)
    write_calls: int = 0

    def as_dict(self) -> dict:
        return self.__dict__.copy()


class ProductSync:
    def __init__(self, db: Database, woo, erp):
        self.db, self.woo, self.erp = db, woo, erp

    def unseen(self, items: list[dict]) -> list[dict]:
        """The records of a poll page not already written at this `modified_at` (the overlap re-reads them)."""
        done = {}
        for kind in (PRODUCT, VARIATION):
            for b in self._bindings(kind, [i["id"] for i in items]).values():
                if b.sync_hash and b.erp_modified_at:
                    done[b.erp_id] = b.erp_modified_at
        return [i for i in items if done.get(i["id"]) != i.get("modified_at")]

    def triage(self, items: list[dict]) -> list[str]:
        """The SKUs of a poll page worth applying: records already written at this `modified_at` are
        skipped, and records without a SKU (which cannot be fetched back) are quarantined here."""
        report = ProductReport()
        for item in items:
            if not str(item.get("sku") or "").strip():
                self._quarantine(VARIATION if item.get("parent_id") else PRODUCT, item,
                                 f"ERP product {item.get('id')}: has no SKU", report)
        return sorted({i["sku"] for i in self.unseen(items) if str(i.get("sku") or "").strip()})

    def apply(self, skus: list[str]) -> ProductReport:
        report = ProductReport()
        records = self.erp.products_by_sku(sorted(set(skus)))
        by_parent: dict[str, list[dict]] = defaultdict(list)
        tops = []
        for r in records:
            (by_parent[r["parent_id"]] if r.get("parent_id") else tops).append(r)
        self._write(PRODUCT, None, tops, report)
        for parent_erp_id, variants in sorted(by_parent.items()):
            parent_woo_id = self._ensure_parent(parent_erp_id, variants, report)
            if parent_woo_id is not None:
                self._write(VARIATION, parent_woo_id, variants, report)
        event(log, "products applied", **{k: v for k, v in report.as_dict().items() if k != "quarantined"},
              quarantined=len(report.quarantined))
        return report

    # -- parents -------------------------------------------------------------------------------------
    def _ensure_parent(self, parent_erp_id: str, variants: list[dict], report: ProductReport) -> int | None:
        binding = self._bindings(PRODUCT, [parent_erp_id]).get(parent_erp_id)
        if binding is None or binding.woo_id is None:
            self._write(PRODUCT, None, [self.erp.get_product(parent_erp_id)], report)
            binding = self._bindings(PRODUCT, [parent_erp_id]).get(parent_erp_id)
            if binding is None or binding.woo_id is None:
                for v in variants:
                    self._quarantine(VARIATION, v, f"parent {parent_erp_id} could not be written", report)
                return None
        parent = self.woo.get_product(binding.woo_id)
        wanted = mapping.parent_attributes(variants)
        current = {a["name"]: list(a.get("options") or []) for a in parent.get("attributes") or []}
        merged, changed = [], False
        for attr in wanted:
            options = current.get(attr["name"], [])
            missing = [o for o in attr["options"] if o not in options]
            changed |= bool(missing) or attr["name"] not in current
            merged.append(dict(attr, options=options + missing))
        if changed:
            names = {a["name"] for a in merged}
            keep = [a for a in parent.get("attributes") or [] if a["name"] not in names]
            self.woo.batch_products(update=[{"id": binding.woo_id, "attributes": keep + merged}])
            report.write_calls += 1
        return binding.woo_id

    # -- one batch round -----------------------------------------------------------------------------
    def _write(self, kind: str, parent_woo_id: int | None, records: list[dict], report: ProductReport) -> None:
        payloads: dict[str, dict] = {}
        for r in records:
            try:
                payloads[r["id"]] = mapping.map_product(r)
            except InvalidDataError as e:
                self._quarantine(kind, r, str(e), report)
        bindings = self._bindings(kind, list(payloads))
        records_by_id = {r["id"]: r for r in records}
        unbound = [i for i in payloads if bindings.get(i) is None or bindings[i].woo_id is None]
        existing = self._existing_by_sku([payloads[i]["sku"] for i in unbound])
        creates, updates = [], []
        for erp_id, payload in payloads.items():
            digest = mapping.payload_hash(payload)
            b = bindings.get(erp_id)
            if b is not None and b.woo_id is not None:
                if b.sync_hash == digest:
                    report.unchanged += 1
                    if b.erp_modified_at != records_by_id[erp_id].get("modified_at"):
                        self._bind(kind, records_by_id[erp_id], b.woo_id, parent_woo_id, digest)
                else:
                    updates.append((erp_id, dict(payload, id=b.woo_id), digest))
            elif payload["sku"] in existing:
                woo_id = existing[payload["sku"]]
                self._bind(kind, records_by_id[erp_id], woo_id, parent_woo_id, None)
                report.linked += 1
                updates.append((erp_id, dict(payload, id=woo_id), digest))
            else:
                creates.append((erp_id, payload, digest))
        for start in range(0, len(creates) + len(updates), BATCH_LIMIT):
            self._send(kind, parent_woo_id, creates, updates, start, records_by_id, report)

    def _send(self, kind, parent_woo_id, creates, updates, start, records_by_id, report) -> None:
        window = (creates + updates)[start:start + BATCH_LIMIT]
        c = [x for x in window if x in creates]
        u = [x for x in window if x in updates]
        if kind == PRODUCT:
            answer = self.woo.batch_products(create=[p for _, p, _ in c], update=[p for _, p, _ in u])
        else:
            answer = self.woo.batch_variations(parent_woo_id, create=[p for _, p, _ in c], update=[p for _, p, _ in u])
        report.write_calls += 1
        relink = []
        for (erp_id, payload, digest), item in zip(c, answer.get("create", [])):
            record = records_by_id[erp_id]
            error = item.get("error")
            if not error:
                self._bind(kind, record, item["id"], parent_woo_id, digest)
                report.created += 1
            elif error.get("code") == "product_invalid_sku" and (error.get("data") or {}).get("resource_id"):
                woo_id = error["data"]["resource_id"]
                self._bind(kind, record, woo_id, parent_woo_id, None)
                report.linked += 1
                relink.append(dict(payload, id=woo_id))
            else:
                self._quarantine(kind, record, f"WooCommerce refused {payload['sku']}: {error.get('code')} "
                                               f"{error.get('message')}", report)
        for (erp_id, payload, digest), item in zip(u, answer.get("update", [])):
            record = records_by_id[erp_id]
            error = item.get("error")
            if not error:
                self._bind(kind, record, item["id"], parent_woo_id, digest)
                report.updated += 1
            elif error.get("code") in GONE_CODES:
                self._unbind(kind, erp_id)  # deleted in Woo: the next poll creates it again
            else:
                self._quarantine(kind, record, f"WooCommerce refused {payload['sku']}: {error.get('code')} "
                                               f"{error.get('message')}", report)
        if relink:  # SKUs that already existed: write our data onto them (hash stays unset until it succeeds)
            if kind == PRODUCT:
                self.woo.batch_products(update=relink)
            else:
                self.woo.batch_variations(parent_woo_id, update=relink)
            report.write_calls += 1

    # -- binder ----------------------------------------------------------------------------------------
    def _existing_by_sku(self, skus: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in range(0, len(skus), 100):
            for p in self.woo.products_by_sku(skus[i:i + 100]):
                if p.get("sku"):
                    found[p["sku"]] = p["id"]
        return found

    def _bindings(self, kind: str, erp_ids: list[str]) -> dict[str, EntityMapping]:
        if not erp_ids:
            return {}
        with self.db.session() as s:
            rows = s.scalars(select(EntityMapping).where(EntityMapping.entity_type == kind,
                                                         EntityMapping.erp_id.in_(erp_ids)))
            return {r.erp_id: r for r in rows}

    def _upsert(self, kind: str, record: dict, **values) -> None:
        with self.db.session() as s:
            row = s.scalar(select(EntityMapping).where(EntityMapping.entity_type == kind,
                                                       EntityMapping.erp_id == record["id"]))
            if row is None:
                row = EntityMapping(entity_type=kind, erp_id=record["id"])
                s.add(row)
            row.sku = record.get("sku")
            for k, v in values.items():
                setattr(row, k, v)

    def _bind(self, kind, record, woo_id, parent_woo_id, digest) -> None:
        self._upsert(kind, record, woo_id=woo_id, woo_parent_id=parent_woo_id, sync_hash=digest,
                     erp_modified_at=record.get("modified_at") if digest else None,
                     last_synced_at=utcnow(), quarantine_reason=None)

    def _unbind(self, kind: str, erp_id: str) -> None:
        with self.db.session() as s:
            row = s.scalar(select(EntityMapping).where(EntityMapping.entity_type == kind,
                                                       EntityMapping.erp_id == erp_id))
            if row is not None:
                row.woo_id, row.sync_hash = None, None

    def _quarantine(self, kind: str, record: dict, reason: str, report: ProductReport) -> None:
        self._upsert(kind, record, quarantine_reason=reason, sync_hash=None)
        report.quarantined[record.get("sku") or record.get("id")] = reason
        event(log, "product quarantined", logging.WARNING, erp_id=record.get("id"), reason=reason)
