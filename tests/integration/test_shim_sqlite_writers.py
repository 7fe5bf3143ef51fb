"""Two shim processes (gunicorn's workers) on one SQLite file take turns to write without SQLite's busy
handler: with no busy timeout at all, concurrent holding deliveries from both are all stored (a writer
that found the lock taken would fail at once, and the shop would get a 503)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.procs import child_env

SCRIPT = r"""
import json, sys
from concurrent.futures import ThreadPoolExecutor
from connector.settings import load
from connector.webhooks import signature, write_pending_marks
from shim.app import create_app

first = int(sys.argv[1])
app = create_app(load(), publish=lambda topic, rid, cid: f"task-{rid}")

def post(order_id):
    body = json.dumps({"id": order_id, "status": "processing", "date_modified_gmt": "2026-11-20T10:00:00",
                       "line_items": [{"sku": "W-1", "quantity": 1}, {"sku": "W-2", "quantity": 3}]}).encode()
    r = app.test_client().post("/webhooks/woocommerce", data=body, headers={
        "X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Signature": signature(body, "writer-secret")})
    return r.status_code

post(first)  # the pool's first connection
sys.stdin.readline()  # both processes start together
with ThreadPoolExecutor(4) as pool:
    codes = list(pool.map(post, range(first + 1, first + 200)))
write_pending_marks()
print(json.dumps(codes))
"""


def test_two_shim_processes_store_concurrent_deliveries_without_waiting_in_sqlites_busy_handler(db):
    if not db.is_sqlite:
        pytest.skip("PostgreSQL has row locks: nothing to take turns for")
    env = child_env() | {"DATABASE_URL": db.url, "WOO_WEBHOOK_SECRET": "writer-secret",
                         "SQLITE_BUSY_TIMEOUT_SECONDS": "0", "LOG_LEVEL": "ERROR"}
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(first)], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for first in (1000, 2000)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    codes = [c for out, _ in outs for c in json.loads(out.strip().splitlines()[-1])]
    assert codes == [200] * 398
