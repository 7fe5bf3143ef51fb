"""Operator input is safe: make passes variables as data, CLI errors are one line with exit 2, and a
broken PRODUCT_MAPPING_FILE stops every process at start."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.settings import load_checked

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

RECORDER = """#!{python}
import json, os, sys
with open(os.environ["RECORD_TO"], "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "erp_kind": os.environ.get("ERP_KIND")}}) + "\\n")
"""


def injection(tmp: Path, tag: str) -> str:
    """A value that runs `touch` in every way a shell (or make) could be talked into it."""
    p = tmp / f"pwned-{tag}"
    return (f"x;touch {p}-a | touch {p}-b && touch {p}-c $(touch {p}-d) `touch {p}-e` \"'\\ "
            f"$(shell touch {p}-f) $$(touch {p}-g) {{a,b}} * ~ > {p}-h")


# target → the make variables it takes
TARGETS = {
    "dead-letter": ["ID"], "replay-dead-letters": ["ID", "TASK", "SINCE", "REASON"],
    "discard-dead-letter": ["ID", "REASON"], "retry-order": ["ID"], "retry-product": ["SKU"],
    "reconcile": ["CSV"], "orders": ["STATE"], "dead-letters": ["ALL"], "chaos": ["ORDERS"], "run": ["ERP"],
}


@pytest.mark.parametrize("target, variable", [(t, v) for t, vs in TARGETS.items() for v in vs])
def test_make_variables_reach_the_command_as_one_argument_and_nothing_runs(tmp_path, target, variable):
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("wooerp", "python"):
        (fake / name).write_text(RECORDER.format(python=sys.executable))
        (fake / name).chmod(0o755)
    stamp = tmp_path / "stamp"
    stamp.touch()
    os.utime(stamp, (time.time() + 3600, time.time() + 3600))  # newer than pyproject.toml: nothing to install
    value = injection(tmp_path, variable)
    record = tmp_path / "record.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in TARGETS.get(target, []) and k != "MAKEFLAGS"}
    env["RECORD_TO"] = str(record)
    p = subprocess.run(["make", "-s", "-C", str(ROOT), target, f"BIN={fake}", f"STAMP={stamp}",
                        f"{variable}={value}"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr
    assert not list(tmp_path.glob("pwned-*")), "a shell or make command in the value ran"
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(calls) == 1
    if variable == "ERP":
        assert calls[0]["erp_kind"] == value
    elif variable != "ALL":
        assert value in calls[0]["argv"], calls[0]["argv"]


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "ops.cli", *args], capture_output=True, text=True, env=base,
                          cwd=ROOT, timeout=60)


@pytest.mark.parametrize("args", [
    ("dead-letters", "replay", "--since", "2h'"),
    ("dead-letters", "replay", "--since", "99999999999d"),
    ("dead-letters", "show", "seven"),
    ("orders", "retry", "12;x"),
    ("orders", "retry"),
    ("no-such-command",),
    ("reconcile", "--examples", "many"),
])
def test_every_cli_error_is_one_line_and_exit_2(tmp_path, args):
    p = cli(*args, DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stderr.strip() and p.stderr.strip().count("\n") == 0, p.stderr
    assert "Traceback" not in p.stderr


BROKEN_TABLES = {
    "missing": None,
    "not json": "{fields: [",
    "no to": json.dumps({"fields": [{"from": "sku", "transform": "text"}]}),
    "promotion": json.dumps({"fields": [{"from": "price", "to": "sale_price"}]}),
    "unknown transform": json.dumps({"fields": [{"from": "sku", "to": "sku", "transform": "shout"}]}),
    "fields not a list": json.dumps({"fields": {"from": "sku"}}),
    "empty": json.dumps({"fields": []}),
    "typo in a key": json.dumps({"fields": [{"from": "sku", "to": "sku", "tranform": "text"}]}),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_TABLES))
def test_a_broken_mapping_file_is_refused_at_start(tmp_path, kind):
    path = tmp_path / "mapping.json"
    if BROKEN_TABLES[kind] is not None:
        path.write_text(BROKEN_TABLES[kind])
    with pytest.raises(ConfigError) as e:
        load_checked({"PRODUCT_MAPPING_FILE": str(path)})
    assert e.value.variable == "PRODUCT_MAPPING_FILE"


def test_the_shipped_mapping_file_is_valid():
    load_checked({})


def test_a_worker_with_a_broken_mapping_file_does_not_start(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"fields": [{"from": "sku"}]}))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PRODUCT_MAPPING_FILE": str(path)}
    p = subprocess.run([str(Path(sys.executable).parent / "celery"), "-A", "workers.app", "worker", "-Q", "catalog"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert p.returncode == 2 and "PRODUCT_MAPPING_FILE" in p.stderr and "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0
