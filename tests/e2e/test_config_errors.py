"""A bad setting stops `make run` with one line naming the variable and exit status 2."""
import os
import subprocess

import pytest

from tests.support.procs import ROOT


@pytest.mark.parametrize("variable, value", [("WOO_URL", "not-a-url"), ("ORDER_POLL_SECONDS", "often")])
def test_make_run_refuses_a_bad_value(variable, value):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env[variable] = value
    p = subprocess.run(["make", "-s", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    ours = [line for line in p.stderr.splitlines() if line.startswith("wooerp:")]
    assert len(ours) == 1 and variable in ours[0], p.stderr
    assert "Traceback" not in p.stderr + p.stdout
