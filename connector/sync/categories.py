"""ERP categories → nested WooCommerce product categories, and the shop ids products are assigned to.

Each ERP category (`code`, `name`, `parent_code`) becomes one shop category with the slug derived from
its code, so it is created once: an unbound category is first looked up by slug (one call per chunk)
and adopted if the shop has it, and a create that WooCommerce answers with `term_exists` (the same name
under the same parent) binds to the term it names. Parents are written before their children, in
batches of at most 100; a renamed or moved category is updated when its payload hash changed, and an
unchanged one costs nothing. A category whose parent is not known yet waits (TransientError) until the
parent has been written, at most `PARENT_WAIT_ROUNDS` polls; then it is created at the top level.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field

from connector import binding
from connector.binding import CATEGORY
from connector.db import Database
from connector.logs import event
from connector.mapping.products import payload_hash
from connector.paging import chunked
from connector.woo.client import BATCH_LIMIT

log = logging.getLogger("wooerp.categories")


@dataclass
class CategoryReport:
    """What one `CategorySync.apply` did: counts of shop categories created, updated, left unchanged and
    linked (adopted by slug or `term_exists`), `failed` {ERP code: "<woo error code>: <message>"} for
    those the shop refused, and `write_calls` (batch calls made)."""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: int = 0
    failed: dict = field(default_factory=dict)
    write_calls: int = 0

    def as_dict(self) -> dict:
        """The report as a plain dict (a task's JSON-able result)."""
        return self.__dict__.copy()


def category_slug(code: str) -> str:
    """The shop slug of an ERP category code (WordPress keeps lower-case ASCII, digits and hyphens)."""
    text = unicodedata.normalize("NFKD", code).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "category"


class CategorySync:
    """Writes ERP categories into the shop (see the module docstring): `db` holds the category bindings,
    `woo` is a ShopPort."""
    def __init__(self, db: Database, woo):
        self.db, self.woo = db, woo

    # -- ERP → shop ----------------------------------------------------------------------------------
    def apply(self, categories: list[dict]) -> CategoryReport:
        """Create, adopt or update the shop category of each ERP category in `categories` (ErpCategory dicts;
        records without a `code` are ignored), parents before children, in batch calls of ≤ 100, binding each
        shop id in the database as it is written (a commit per category). A refused category is counted in
        `failed` and the others go on; transport failures raise the shop's error family, leaving what was
        already written bound."""
        report = CategoryReport()
        pending = {c["code"]: c for c in categories if c.get("code")}
        bound = self.woo_ids([*pending, *(c.get("parent_code") for c in pending.values() if c.get("parent_code"))])
        self._link_by_slug([code for code in pending if code not in bound], bound, report)
        hashes = self._hashes(list(pending))
        while pending:
            ready = [c for c in pending.values() if not c.get("parent_code") or c["parent_code"] in bound]
            orphans = not ready
            if orphans:  # parents the ERP never sent (or that failed): top level rather than nowhere
                event(log, "category parent unknown; placed at the top level", logging.WARNING,
                      codes=",".join(sorted(pending)))
                ready = list(pending.values())
            for c in ready:
                del pending[c["code"]]
            self._write_round(ready, bound, hashes, report, top_level=orphans)
        return report

    def _payload(self, c: dict, bound: dict[str, int], top_level: bool) -> dict:
        parent = 0 if top_level or not c.get("parent_code") else bound.get(c["parent_code"], 0)
        return {"name": (c.get("name") or c["code"]).strip(), "slug": category_slug(c["code"]), "parent": parent}

    def _write_round(self, ready: list[dict], bound: dict[str, int], hashes: dict[str, str | None],
                     report: CategoryReport, top_level: bool) -> None:
        creates, updates = [], []
        for c in ready:
            payload = self._payload(c, bound, top_level)
            digest = payload_hash(payload)
            if c["code"] in bound:
                if hashes.get(c["code"]) == digest:
                    report.unchanged += 1
                else:
                    updates.append((c, dict(payload, id=bound[c["code"]]), digest))
            else:
                creates.append((c, payload, digest))
        work = [("create", item) for item in creates] + [("update", item) for item in updates]
        for chunk in chunked(work, BATCH_LIMIT):
            answer = self.woo.batch_categories(create=[p for op, (_, p, _) in chunk if op == "create"],
                                               update=[p for op, (_, p, _) in chunk if op == "update"])
            report.write_calls += 1
            results = {"create": iter(answer.get("create") or []), "update": iter(answer.get("update") or [])}
            for op, (c, payload, digest) in chunk:
                result = next(results[op], {}) or {}
                error = result.get("error")
                if not error and result.get("id"):
                    bound[c["code"]] = result["id"]
                    self._bind(c["code"], result["id"], payload["parent"], digest)
                    setattr(report, "created" if op == "create" else "updated",
                            getattr(report, "created" if op == "create" else "updated") + 1)
                elif error and error.get("code") == "term_exists" and (error.get("data") or {}).get("resource_id"):
                    woo_id = int(error["data"]["resource_id"])  # made by an earlier attempt, or by hand
                    bound[c["code"]] = woo_id
                    self._bind(c["code"], woo_id, payload["parent"], None)
                    report.linked += 1
                else:
                    reason = f"{(error or {}).get('code')}: {(error or {}).get('message')}"
                    report.failed[c["code"]] = reason
                    event(log, "WooCommerce refused a category", logging.WARNING, code=c["code"], reason=reason)

    def _link_by_slug(self, codes: list[str], bound: dict[str, int], report: CategoryReport) -> None:
        """Adopt shop categories that already carry our slug (a crash after a create, a hand-made one)."""
        by_slug = {category_slug(code): code for code in codes}
        slugs = sorted(by_slug)
        for chunk in chunked(slugs, BATCH_LIMIT):
            for term in self.woo.categories_by_slug(chunk):
                code = by_slug.get(term.get("slug"))
                if code and code not in bound:
                    bound[code] = term["id"]
                    self._bind(code, term["id"], term.get("parent") or 0, None)  # no hash: name/parent re-sent
                    report.linked += 1

    # -- bindings ------------------------------------------------------------------------------------
    def woo_ids(self, codes) -> dict[str, int]:
        """Shop category id per ERP category code, for the codes that are bound."""
        return binding.woo_ids(self.db, CATEGORY, (c for c in codes if c))

    def _hashes(self, codes: list[str]) -> dict[str, str | None]:
        return {code: b.sync_hash for code, b in binding.get(self.db, CATEGORY, codes).items()}

    def _bind(self, code: str, woo_id: int, parent_woo_id: int, digest: str | None) -> None:
        binding.bind(self.db, CATEGORY, code, woo_id, woo_parent_id=parent_woo_id or None, sync_hash=digest)
