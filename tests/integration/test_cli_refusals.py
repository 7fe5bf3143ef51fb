"""Operator commands given a bad value or a record that does not exist: one line on stderr naming the reason,
nothing changed, and one exit status across the CLI (2: bad usage or input; 1: not found / not in a state
for the action), through `wooerp` itself and through the make targets."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connector import dead_letters
from ops.cli import entry
from tests.support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(db, database_url, monkeypatch, capsys):
    nowhere = free_port()  # nothing below may publish: a broker that is not there would show as an error
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{nowhere}/0")
    monkeypatch.delenv("WOOERP_ENV", raising=False)

    def invoke(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as e:
            entry(list(args))
        out = capsys.readouterr()
        return e.value.code, out.out, out.err
    return invoke


def letter(db, task="wooerp.orders.import_order", args=(41,)) -> int:
    letter_id, _ = dead_letters.record(db, dead_letters.Letter(
        task_id=f"t-{time.monotonic_ns()}", attempt_key="0", task_name=task, args=list(args), kwargs={},
        queue="orders", correlation_id=None, retries=0, exc_type="PermanentError", exc_message="422",
        traceback=None, resource=None))
    return letter_id


@pytest.mark.parametrize("args, code, reason", [
    (("orders", "list", "--state", "bogus"), 2, "'bogus' is not one of"),
    (("dead-letters", "replay", "--id", "999"), 1, "no dead letter 999"),
    (("dead-letters", "discard", "--id", "999", "--reason", "gone"), 1, "no dead letter 999"),
    (("dead-letters", "show", "999"), 1, "no dead letter 999"),
    (("orders", "retry", "999"), 1, "order 999: wooerp has no such order"),
    (("products", "retry", "NOSUCH"), 1, "product NOSUCH: not quarantined"),
    (("dead-letters", "replay", "--since", "2999-01-01T00:00"), 2, "is in the future"),
    (("dead-letters", "replay", "--task", "import_ordre"), 2, "'import_ordre' matches no task"),
    (("dead-letters", "discard", "--id", "1", "--reason", "  "), 2, "'--reason': is empty"),
    (("dead-letters", "replay", "--reason", ""), 2, "'--reason': is empty"),
    (("rebind", "shop", "--reason", " "), 2, "'--reason': is empty"),
])
def test_a_bad_value_or_a_missing_record_is_refused_with_its_reason(run, db, args, code, reason):
    kept = letter(db)
    status, out, err = run(*args)
    assert status == code, (out, err)
    assert reason in err and "Traceback" not in err, err
    assert dead_letters.get(db, kept).status == dead_letters.OPEN  # nothing else was touched


def test_a_letter_replayed_already_is_not_replayed_again_and_that_is_no_error(run, db):
    done = letter(db)
    assert dead_letters.claim_for_replay(db, done, "t-new", by="ops@host", reason="ERP outage over")
    status, out, err = run("dead-letters", "replay", "--id", str(done))
    assert status == 0 and f"dead letter {done} was already replayed" in err and "replayed as task" not in out
    assert dead_letters.get(db, done).replay_task_id == "t-new"


def test_a_letter_that_is_no_longer_open_is_not_replayed_or_discarded_again(run, db):
    done = letter(db)
    assert dead_letters.discard(db, done, "order deleted in shop", by="ops@host")
    for args in (("dead-letters", "replay", "--id", str(done)),
                 ("dead-letters", "discard", "--id", str(done), "--reason", "again")):
        status, _, err = run(*args)
        assert status == 1 and f"dead letter {done} is not open: discarded" in err and "ops@host" in err, err
    assert dead_letters.get(db, done).resolution == "discarded: order deleted in shop"


def test_a_filter_that_matches_no_open_letter_is_not_an_error(run, db):
    status, out, err = run("dead-letters", "replay", "--task", "import_order", "--since", "1h")
    assert status == 0 and "no open dead letter matches" in out and not err


def test_a_real_state_is_listed(run, db):
    from connector.db import utcnow
    from connector.models import OrderSync
    with db.session() as s:
        s.add(OrderSync(woo_order_id=77, state="quarantined", reason="currency XYZ not accepted",
                        created_at=utcnow(), updated_at=utcnow()))
    status, out, err = run("orders", "list", "--state", "quarantined")
    assert status == 0 and "currency XYZ not accepted" in out and not err


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target, variable", [("orders", "STATE=bogus"), ("replay-dead-letters", "ID=999")])
def test_a_make_target_fails_when_its_command_refuses(db, database_url, tmp_path, target, variable):
    stamp = tmp_path / "stamp"  # newer than pyproject.toml: nothing to install
    stamp.touch()
    os.utime(stamp, (time.time() + 3600, time.time() + 3600))
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "WOOERP_ENV")}
    env.update(DATABASE_URL=database_url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    p = subprocess.run(["make", "-s", "-C", str(ROOT), target, variable, f"STAMP={stamp}",
                        f"BIN={Path(sys.executable).parent}"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode != 0, p.stdout
    assert ("999" in p.stderr or "bogus" in p.stderr) and "Traceback" not in p.stderr, p.stderr
