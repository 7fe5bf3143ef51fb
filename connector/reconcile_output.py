"""What a reconciliation leaves behind: a human summary, a CSV of every discrepancy, and the last run's
counts (Redis key `wooerp:reconcile:last` for the whole fleet, `last.json` beside the CSVs) for metrics.

CSV columns: kind, key, erp_value, woo_value, detail. Cells pass through the log mask (no e-mail
address or registered secret ever lands in a file) and a cell a spreadsheet would run as a formula is
prefixed with a quote. Only the newest KEEP_CSV reports in the report directory are kept.
"""
from __future__ import annotations

import csv
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

import redis

from connector.broker import redis_client
from connector.display import one_line
from connector.logs import event, mask
from connector.reconcile import KINDS, Report

log = logging.getLogger("wooerp.reconcile")
COLUMNS = ("kind", "key", "erp_value", "woo_value", "detail")
EXAMPLES = 5
KEEP_CSV = 60
LAST_KEY = "wooerp:reconcile:last"
LAST_FILE = "last.json"
MEANING = {
    "missing_in_woo": "ERP products the shop does not have",
    "missing_in_erp": "shop products whose SKU the ERP does not have",
    "price_mismatch": "shop regular price differs from the ERP list price",
    "stock_mismatch": "shop stock differs from the ERP web stock",
    "order_without_erp_number": "shop orders past the grace period with no ERP number",
    "duplicate_erp_orders": "external references held by several live ERP orders",
    "category_mismatch": "shop products not in the shop category of their ERP category",
    "gone_order_in_erp": "shop orders gone from WooCommerce whose ERP order is live",
    "order_differs": "open ERP orders whose addresses, lines, totals or currency differ from the shop's",
    "refund_without_credit_note": "shop refunds with no ERP credit note",
    "credit_note_mismatch": "ERP credit notes whose lines or amount differ from their shop refund",
    "credit_note_without_refund": "ERP credit notes whose shop refund was deleted",
}


def default_csv_path(report_dir: str, at: datetime) -> Path:
    """`<report_dir>/reconcile-<at in UTC, 20261130T020000Z>.csv`; a naive `at` is taken as local time.
    Creates nothing."""
    return Path(report_dir) / f"reconcile-{at.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}.csv"


def _cell(value: str) -> str:
    value = mask(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_csv(report: Report, path: Path) -> Path:
    """Write every discrepancy of `report` to `path` (columns COLUMNS, cells masked and formula-safe), creating its
    directory; written to `<path>.part` and renamed, so a reader never sees half a file. Returns `path`;
    raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for d in report.discrepancies:
            out.writerow([_cell(getattr(d, c)) for c in COLUMNS])
    os.replace(tmp, path)
    return path


def summary(report: Report, csv_path: Path | None = None, examples: int = EXAMPLES) -> str:
    """The report for people, several lines: when, how long, what was checked, counts per kind, up to
    `examples` discrepancies of each kind found (masked), and the CSV's path when given."""
    finished = report.finished_at or report.started_at
    total = len(report.discrepancies)
    c = report.checked
    lines = [f"Reconciliation of {finished:%Y-%m-%d %H:%M:%S} UTC ({report.seconds:.1f} s): "
             + ("clean, no discrepancies." if not total else f"{total} discrepancies."),
             f"Checked {c['erp_products']} ERP products ({c['erp_products_invalid']} invalid, not compared), "
             f"{c['erp_stock_rows']} ERP stock rows, {c['woo_products']} shop products "
             f"({c['woo_products_without_sku']} without SKU), {c['woo_orders']} shop orders, "
             f"{c['erp_orders']} ERP orders"
             + (f", {c['credit_notes_accepted']} credit notes of deleted refunds accepted by a person"
                if c['credit_notes_accepted'] else "") + ".", ""]
    lines += [f"  {kind:<26}{n:>7}" for kind, n in report.counts().items()]
    for kind in KINDS:
        found = report.of(kind)
        if not found:
            continue
        lines += ["", f"{kind}: {MEANING[kind]}"]
        lines += [mask(f"  {one_line(d.key, 48):<16} ERP {one_line(d.erp_value or '-', 40):<10} "
                       f"Woo {one_line(d.woo_value or '-', 40):<10} {one_line(d.detail, 200)}")
                  for d in found[:examples]]
        if len(found) > examples:
            lines.append(f"  … and {len(found) - examples} more in the CSV")
    if csv_path is not None:
        lines += ["", f"CSV: {csv_path}"]
    return "\n".join(lines)


def last_run(report: Report, csv_path: Path | None) -> dict:
    """The run's counts as stored for metrics: {"finished_at": epoch seconds, "counts": {kind: n}, "checked":
    {what: n}, "seconds", "csv": path or None}."""
    return {"finished_at": (report.finished_at or report.started_at).timestamp(), "counts": report.counts(),
            "checked": dict(report.checked), "seconds": round(report.seconds, 1),
            "csv": str(csv_path) if csv_path else None}


def record_last(report: Report, csv_path: Path | None, report_dir: str, broker_url: str | None) -> dict:
    """Persist the counts of this run (file, then Redis; a Redis failure is logged, not raised)."""
    last = last_run(report, csv_path)
    body = json.dumps(last, sort_keys=True)
    Path(report_dir).mkdir(parents=True, exist_ok=True)
    target = Path(report_dir) / LAST_FILE
    tmp = target.with_name(LAST_FILE + ".part")
    tmp.write_text(body)
    os.replace(tmp, target)
    if broker_url:
        try:
            redis_client(broker_url).set(LAST_KEY, body)
        except redis.RedisError as e:
            event(log, "reconciliation counts not stored in Redis", logging.WARNING, error=str(e))
    return last


def read_last(broker_url: str | None, report_dir: str | None) -> dict | None:
    """The newest stored run (Redis or file), or None before the first run."""
    found = []
    if broker_url:
        try:
            raw = redis_client(broker_url).get(LAST_KEY)
            if raw:
                found.append(json.loads(raw))
        except (redis.RedisError, ValueError):
            pass
    if report_dir:
        try:
            found.append(json.loads((Path(report_dir) / LAST_FILE).read_text()))
        except (OSError, ValueError):
            pass
    return max(found, key=lambda r: r.get("finished_at") or 0, default=None)


def prune(report_dir: str, keep: int = KEEP_CSV) -> None:
    """Delete all but the newest `keep` reconcile-*.csv files in `report_dir` (every one when `keep` is 0)."""
    reports = sorted(Path(report_dir).glob("reconcile-*.csv"))
    for old in reports[:-keep] if keep else reports:
        old.unlink(missing_ok=True)


def run(services, csv_path: str | os.PathLike | None = None) -> tuple[Report, Path]:
    """Reconcile now, write the CSV (default: a new file in the report directory, keeping the newest
    KEEP_CSV) and record the counts (even when the CSV cannot be written); returns (report, CSV path).
    Raises what Reconciler.run raises (nothing is recorded then) and OSError."""
    s = services.settings
    report = services.reconciler.run()
    path = Path(csv_path) if csv_path else default_csv_path(s.reconcile_dir, report.started_at)
    try:
        write_csv(report, path)
        if not csv_path:
            prune(s.reconcile_dir)
    finally:  # the counts reach the metrics even when the CSV cannot be written
        record_last(report, path, s.reconcile_dir, s.broker_url)
    return report, path


def run_and_log(services) -> dict:
    """The daily reconciliation: `run` with the default CSV path, then one structured event
    "reconciliation finished" (WARNING when anything differs) with the counts by kind, the first
    EXAMPLES keys of each kind, what was checked, the seconds taken and the CSV path. Returns
    {"clean": bool, "discrepancies": {kind: count}, "csv": path}. Raises what `run` raises."""
    report, path = run(services)
    examples = {kind: [d.key for d in report.of(kind)[:EXAMPLES]] for kind, n in report.counts().items() if n}
    event(log, "reconciliation finished", logging.INFO if report.clean else logging.WARNING,
          clean=report.clean, discrepancies=report.counts(), examples=examples, checked=dict(report.checked),
          seconds=round(report.seconds, 1), csv=str(path))
    return {"clean": report.clean, "discrepancies": report.counts(), "csv": str(path)}
