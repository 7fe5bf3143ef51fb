"""An operator finds dead letters in Flower, started exactly as `make run` starts it (persistent, basic
auth), with a real headless Chromium: the dead_letter queue with its length on the Broker page, the
open letters as failed keeper tasks (how many, and for each the task, args, exception and traceback),
and a letter that was discarded no longer counted as waiting."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest
import requests

from connector import dead_letters
from connector.db import Database
from connector.settings import load
from tests.support.chromium import Browser, find_chromium
from tests.support.messages import send, start_worker
from tests.support.procs import ROOT, free_port, wait_until
from workers.announce import keeper_task_id
from ops.fleet import flower_command

# Skipped without Chromium on a developer's machine; CI (CI=true, which installs it) fails instead.
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_chromium() is None and not os.environ.get("CI"),
                                                  reason="chromium is not installed (apt-get install -y chromium)")]
WAITING = "name=wooerp.dead_letter.keep&state=FAILURE"


def test_an_operator_sees_the_dead_letters_in_flower(fleet_factory, tmp_path):
    fleet = fleet_factory(METRICS_PORT="0")
    settings = load(fleet.env)
    port = free_port()
    fleet.start("flower", shlex.split(flower_command(settings, port=port, state_dir=tmp_path)),
                ready_url=f"http://127.0.0.1:{port}/healthcheck")
    base, auth = f"http://127.0.0.1:{port}", (settings.flower_user, settings.flower_password)
    start_worker(fleet)
    fleet.start_worker(name="keeper", queues="dead_letter", concurrency=1)
    wait_until(lambda: any(n.startswith("keeper@") for n in
                           requests.get(f"{base}/api/workers?refresh=1", auth=auth, timeout=10).json()),
               30, 0.5, "the keeper in Flower")
    assert requests.get(f"{base}/broker", timeout=5).status_code == 401  # no open Flower

    failed_id = send(fleet, "wooerp.test.refused_for_good", 4711)
    db = Database(fleet.env["DATABASE_URL"])
    [letter] = wait_until(lambda: [x for x in dead_letters.listing(db) if x.announced_at], 60, 0.5, "a dead letter")
    keeper_id = keeper_task_id(letter.id, failed_id)

    browser = Browser(str(tmp_path / "chromium-profile"), str(tmp_path / "chromium.log"))
    try:
        browser.open_tab(*auth)
        browser.go(f"{base}/broker")
        page = browser.text_when(lambda t: "dead_letter" in t)
        assert re.search(r"^dead_letter\s+\d+", page, re.M), page  # the queue, with its length

        browser.go(f"{base}/tasks?{WAITING}")
        page = browser.text_when(lambda t: "of 1 tasks" in t and keeper_id in t)
        assert "FAILURE" in page and "wooerp.dead_letter.keep" in page

        browser.go(f"{base}/task/{keeper_id}")
        page = browser.text_when(lambda t: "Traceback of the failed task" in t)
        assert "'failed_task': 'wooerp.test.refused_for_good'" in page and "'task_args': [4711]" in page
        assert "PermanentError: the ERP refused order 4711: customer account is blocked" in page
        assert "refused_for_good" in page.split("Traceback of the failed task", 1)[1]  # its own traceback

        discard = subprocess.run([sys.executable, "-m", "ops.cli", "dead-letters", "discard", "--id",
                                  str(letter.id), "--reason", "customer blocked on purpose"], cwd=ROOT,
                                 env=fleet.env, capture_output=True, text=True, timeout=60)
        assert discard.returncode == 0, discard.stderr
        browser.go(f"{base}/tasks?{WAITING}")
        browser.text_when(lambda t: "No tasks to show" in t or "No tasks match" in t)
        browser.go(f"{base}/task/{keeper_id}")
        assert "discarded: customer blocked on purpose" in browser.text_when(lambda t: "SUCCESS" in t)
    finally:
        browser.close()
