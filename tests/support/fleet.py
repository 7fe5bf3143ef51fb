"""A real fleet for end-to-end tests: both sandboxes, the shim under gunicorn, `celery worker` and
`celery beat` processes, all talking over real HTTP and a real broker."""
from __future__ import annotations

import sys
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.procs import Proc, child_env, free_port, stop_all, wait_http

if TYPE_CHECKING:
    from tests.support.tryton import TrytonServer

BIN = Path(sys.executable).parent
# The shim as deployed, less two things a test fleet does not want: gunicorn's control socket, one path per
# user ($HOME/.gunicorn/gunicorn.ctl) that the shims of parallel tests would take over from one another and
# whose shutdown costs the master up to 4 s; and a 30 s graceful stop, when the test is over and nothing is
# in flight (stopping the shim took 4-6 s per test, now about 2).
SHIM_TEST_OPTIONS = ["--no-control-socket", "--graceful-timeout", "1"]


@dataclass
class Fleet:
    env: dict
    woo_url: str
    erp_url: str
    shim_url: str
    logs: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    tryton: "TrytonServer | None" = None  # with launch(erp="tryton"): the ERP is a real trytond

    def start(self, name: str, argv: list[str], ready_url: str | None = None) -> Proc:
        proc = Proc(name, argv, self.env, self.logs / f"{name}.log").start()
        self.procs[name] = proc
        if ready_url:
            wait_http(ready_url, proc=proc, timeout=30)
        return proc

    def start_all(self, *specs: tuple[str, list[str], str]) -> None:
        """Start several processes side by side, then wait until each answers its ready URL: their
        interpreter starts overlap instead of adding up."""
        started = [(Proc(name, argv, self.env, self.logs / f"{name}.log").start(), url) for name, argv, url in specs]
        for proc, _ in started:
            self.procs[proc.name] = proc
        for proc, url in started:
            wait_http(url, proc=proc, timeout=30)

    def start_worker(self, name: str = "worker", queues: str = "orders,catalog,inventory",
                     concurrency: int = 2, pool: str | None = None) -> Proc:
        """`pool="threads"`: `concurrency` threads in one process (I/O-bound order imports), else prefork."""
        return self.start(name, [str(BIN / "celery"), "-A", "workers.app", "worker", "-Q", queues,
                                 "-c", str(concurrency), "-n", f"{name}@%h", "--loglevel", "INFO",
                                 "--without-mingle", "--without-gossip"] + (["-P", pool] if pool else []))

    def wait_workers_ready(self, names: list[str], timeout: float = 120) -> None:
        """Until every named worker answers a control ping (consuming its queues): a worker starts in
        seconds on a busy machine, which a benchmark must not count as the fleet's time."""
        from celery import Celery
        wanted, answered = {f"{name}@{socket.gethostname()}" for name in names}, set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            app = Celery("probe", broker=self.env["REDIS_URL"])
            try:
                answered |= {k for reply in app.control.ping(timeout=1.0) for k in reply}
            except Exception:  # a broker connection dropped under load: ask again
                time.sleep(0.5)
            finally:
                app.close()
            if wanted <= answered:
                return
        raise TimeoutError(f"workers not ready after {timeout:g} s: {sorted(wanted - answered)}")

    def start_beat(self) -> Proc:
        """Beat, or beat again after `stop_beat` (one beat per fleet, as in production)."""
        if self.beat_running():
            raise RuntimeError("beat is already running in this fleet")
        return self.start("beat", [str(BIN / "celery"), "-A", "workers.app", "beat", "--loglevel", "INFO",
                                   "-s", str(self.logs / "celerybeat-schedule")])

    def beat_running(self) -> bool:
        beat = self.procs.get("beat")
        return beat is not None and beat.alive()

    def stop_beat(self) -> None:
        """No more scheduled polls, relays or watches: what beat already queued still runs. Call it before
        `wait_until_idle`, and `start_beat` again if the test still needs the schedule."""
        beat = self.procs.get("beat")
        if beat is not None:
            beat.stop()

    def wait_until_idle(self, timeout: float = 60, quiet: float = 1.0) -> None:
        """Until nothing more happens: every queue empty, no message held by a worker (tasks are acked
        late, so an active, reserved or retry-scheduled task holds its message unacknowledged) and the
        webhook outbox drained, all of it for `quiet` seconds in a row. Fails the test after `timeout`.

        Refuses to wait while beat runs (`stop_beat` first): beat queues a poll or a relay every second or
        two, so "idle" would be the gap between two of them, which a loaded machine fills."""
        import redis

        from connector import webhooks
        from connector.db import Database
        from workers.queues import ALL_QUEUES
        if self.beat_running():
            raise RuntimeError("wait_until_idle with beat running: call fleet.stop_beat() first")
        client, db = redis.Redis.from_url(self.env["REDIS_URL"]), Database(self.env["DATABASE_URL"])
        deadline, idle_since, busy = time.monotonic() + timeout, None, {}
        try:
            while time.monotonic() < deadline:
                busy = {**{q: client.llen(q) for q in ALL_QUEUES}, "unacked": client.hlen("unacked"),
                        "outbox": len(webhooks.unpublished(db, limit=1))}
                if any(busy.values()):
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since >= quiet:
                    return
                time.sleep(0.1)
        finally:
            client.close()
            db.engine.dispose()
        busy = {k: n for k, n in busy.items() if n}
        raise TimeoutError(f"the fleet was not idle for {quiet} s within {timeout} s (last seen busy: {busy})\n"
                           f"{self.dump_logs()}")

    def task_runs(self, task: str, outcome: str = "success") -> int:
        """How many runs of `task` ended with `outcome`, as the workers count them for their metrics."""
        import json

        import redis

        from workers.task_metrics import TASKS
        client = redis.Redis.from_url(self.env["REDIS_URL"])
        try:
            return int(client.hget(TASKS, json.dumps([task, outcome])) or 0)
        finally:
            client.close()

    def stop(self) -> None:
        """Every process at once: workers and beat first get their SIGTERM, then the shim and the sandboxes
        they talk to; each then has the same grace to exit before it is killed (stopping them one by one
        cost a warm shutdown per process, per test)."""
        stop_all(reversed(list(self.procs.values())))

    def dump_logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{p.log_tail(40)}" for n, p in self.procs.items())


def launch(redis_url: str, database_url: str, logs: Path, erp: str = "rest", **settings: str) -> Fleet:
    """Sandboxes and the shim; `erp="tryton"` starts a trytond with demo data instead of the ERP sandbox."""
    woo_port, erp_port, shim_port = free_port(), free_port(), free_port()
    defaults = dict(PRODUCT_POLL_SECONDS="2", INVENTORY_POLL_SECONDS="2", ORDER_POLL_SECONDS="3", RELAY_SECONDS="1",
                    RETRY_BACKOFF_BASE_SECONDS="0.5", RETRY_BACKOFF_MAX_SECONDS="5", VISIBILITY_TIMEOUT_SECONDS="60",
                    ORDER_LEASE_SECONDS="15", LOG_LEVEL="INFO")
    env = child_env(REDIS_URL=redis_url, DATABASE_URL=database_url, WOO_URL=f"http://127.0.0.1:{woo_port}",
                    ERP_URL=f"http://127.0.0.1:{erp_port}", SHIM_URL=f"http://127.0.0.1:{shim_port}",
                    **{**defaults, **settings})
    fleet = Fleet(env, env["WOO_URL"], env["ERP_URL"], env["SHIM_URL"], logs)
    py = sys.executable
    woo = ("woo", [py, "-m", "sandbox.woo", "--port", str(woo_port)], f"{fleet.woo_url}/wp-json/")
    shim = ("shim", [str(BIN / "gunicorn"), "--config", "python:shim.gunicorn_conf", "--workers", "2",
                     *SHIM_TEST_OPTIONS, "--bind", f"127.0.0.1:{shim_port}", "shim.wsgi:app"],
            f"{fleet.shim_url}/healthz")
    try:
        if erp == "tryton":  # the shim's environment names the trytond, so the shim starts after it
            from tests.support.tryton import start_tryton
            fleet.start(*woo)
            fleet.tryton = start_tryton(logs / "tryton", logs / "tryton.log")
            fleet.procs["tryton"] = fleet.tryton.proc
            env.update(ERP_KIND="tryton", TRYTON_URL=fleet.tryton.url, TRYTON_DATABASE=fleet.tryton.database)
            fleet.start(*shim)
        else:
            # the sandboxes side by side; the shim after them, since it checks both at its start
            fleet.start_all(woo, ("erp", [py, "-m", "sandbox.erp", "--port", str(erp_port)],
                                  f"{fleet.erp_url}/_sandbox/stats"))
            fleet.start(*shim)
    except BaseException:
        fleet.stop()  # nothing half-started outlives a failed launch
        raise
    return fleet
