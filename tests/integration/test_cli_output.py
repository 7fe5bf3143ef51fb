"""What the operator's commands print, and what they must not do: a mistyped SQLite path is refused (never
turned into a new empty database), a reason with newlines or tabs stays on its row, and every order state
is counted where it belongs in `wooerp status` and listed by `wooerp orders list`."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from connector import dead_letters
from connector.db import utcnow
from connector.models import OrderSync
from connector.sync import order_state as st
from ops.cli import entry
from tests.support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(monkeypatch, capsys):
    nowhere = free_port()  # shop and broker unreachable: nothing below may need them
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{nowhere}/0")
    monkeypatch.setenv("WOO_URL", f"http://127.0.0.1:{nowhere}")
    monkeypatch.setenv("ERP_URL", f"http://127.0.0.1:{nowhere}")
    monkeypatch.delenv("WOOERP_ENV", raising=False)

    def invoke(url: str, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("RECONCILE_DIR", str(Path(url.split("///", 1)[-1]).parent / "reports"))
        with pytest.raises(SystemExit) as e:
            entry(list(args))
        out = capsys.readouterr()
        return e.value.code, out.out, out.err
    return invoke


READ_ONLY = [("status",), ("status", "--json"), ("orders", "list"), ("orders", "list", "--state", "attention"),
             ("orders", "retry", "5"), ("dead-letters", "list"), ("dead-letters", "show", "1"),
             ("dead-letters", "replay"), ("dead-letters", "discard", "--id", "1", "--reason", "typo"),
             ("products", "retry", "SKU-1"), ("orders", "accept-credit-note", "5", "--reason", "settled"),
             ("reconcile",), ("sync", "full"), ("rebind", "shop", "--reason", "x")]


@pytest.mark.parametrize("where", ["no-such-dir/typo.db", "typo.db"], ids=["missing directory", "missing file"])
@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_mistyped_sqlite_path_is_refused_and_nothing_is_created(run, tmp_path, where, args):
    target = tmp_path / where
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run(f"sqlite:///{target}", *args)
    assert code == 2, (out, err)
    (line,) = [ln for ln in err.splitlines() if ln.strip()]
    assert str(target) in line and "does not exist" in line and "wooerp migrate" in line
    assert "Traceback" not in err and not out.strip()
    assert sorted(tmp_path.rglob("*")) == before  # no file, no directory, no reports


def test_migrate_creates_the_database_and_then_commands_run(run, tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'wooerp.db'}"
    assert run(url, "migrate")[0] == 0
    assert (tmp_path / "new" / "wooerp.db").exists()
    code, out, err = run(url, "orders", "list")
    assert code == 0 and not err, err


def test_a_worker_refuses_a_mistyped_sqlite_path_and_creates_nothing(tmp_path):
    target = tmp_path / "no-such-dir" / "typo.db"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{target}",
           "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    p = subprocess.run([sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", "orders", "--pool", "solo"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env)
    assert p.returncode == 2, p.stderr[-2000:]
    (line,) = [ln for ln in p.stderr.splitlines() if ln.startswith("wooerp:")]
    assert str(target) in line and "does not exist" in line
    assert not target.parent.exists()


UNRULY = "line one\nline two\twith a tab\r\n\x1b[31mred\x1b[0m " + "long " * 200


def test_tables_print_one_line_per_row_whatever_a_reason_holds(run, db, database_url):
    with db.session() as s:
        for oid, state in ((301, st.QUARANTINED), (302, st.ATTENTION), (303, st.RECEIVED)):
            s.add(OrderSync(woo_order_id=oid, state=state, reason=f"order {oid}: {UNRULY}", erp_order_id=None,
                            created_at=utcnow(), updated_at=utcnow()))
    letter_id, _ = dead_letters.record(db, dead_letters.Letter(
        task_id="t-unruly", attempt_key="0", task_name="wooerp.orders.import_order", args=[303], kwargs={},
        queue="orders", correlation_id=None, retries=0, exc_type="PermanentError", exc_message=UNRULY,
        traceback="Traceback\n  line\n", resource=None))

    code, out, err = run(database_url, "orders", "list")
    assert code == 0, err
    rows = out.splitlines()
    assert len(rows) == 1 + 3  # the header, then exactly one line per order
    for oid in (301, 302, 303):
        (row,) = [r for r in rows if r.split()[0] == str(oid)]
        assert "line one line two with a tab" in row or "dead letter" in row
        assert "\t" not in row and "\x1b" not in row and len(row) < 250 and row.endswith("…")

    code, out, err = run(database_url, "dead-letters", "list")
    assert code == 0, err
    assert all("\t" not in r and "\x1b" not in r and len(r) < 400 for r in out.splitlines())
    (row,) = [r for r in out.splitlines() if r.split()[:2] == [str(letter_id), "wooerp.orders.import_order"]]
    assert "PermanentError: line one line two with a tab \\x1b[31mred" in row
    assert len([r for r in out.splitlines() if r.startswith("  order ")]) == 2  # quarantined + attention, a line each

    code, out, err = run(database_url, "status")
    assert code == 0, err
    (row,) = [r for r in out.splitlines() if r.startswith(f"  #{letter_id} ")]
    assert "\t" not in row and "\x1b" not in row and row.endswith("…")


def test_status_counts_every_order_state_where_it_belongs(run, db, database_url):
    states = sorted(st.TRANSITIONS)
    with db.session() as s:
        for n, state in enumerate(states, start=1):
            s.add(OrderSync(woo_order_id=400 + n, state=state, reason=f"why {state}", created_at=utcnow(),
                            updated_at=utcnow()))
    code, out, err = run(database_url, "status", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["orders"] == {state: 1 for state in states}
    assert report["quarantined"]["orders"] == 1  # only the order whose data is wrong
    assert report["needs_a_person"] == {"attention": 1, "conflict": 1}

    code, out, err = run(database_url, "status")
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.strip()}
    assert lines["orders"].split(None, 1)[1] == ", ".join(f"{state} 1" for state in states)
    assert re.search(r"\borders 1\b", lines["quarantine"]), lines["quarantine"]
    assert lines["attention"].startswith("attention   1 imported order(s)") and "1 in conflict" in lines["attention"]

    for state in states:  # each state is listed by its filter, with its own reason
        code, out, err = run(database_url, "orders", "list", "--state", state)
        assert code == 0, err
        (row,) = out.splitlines()[1:]
        assert row.split()[1] == state and row.endswith(f"why {state}") or state == st.GONE, row
