"""Start and stop real child processes for tests (sandboxes, shim, workers, beat).

Every process runs in its own process group so a test can kill a whole worker the way a dying
machine would (SIGKILL to the group), and so nothing outlives the test session.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


_handed_out: set[int] = set()


def free_port() -> int:
    """A free loopback port not handed out before in this process (the OS may offer one twice)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None
    extra: dict = field(default_factory=dict)

    def start(self) -> "Proc":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 10.0) -> None:
        if not self.alive():
            self.kill_group(signal.SIGKILL)  # reap stragglers of a dead leader
            return
        self.kill_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_group(signal.SIGKILL)
            self.popen.wait(5)
        self.kill_group(signal.SIGKILL)

    def wait_gone(self, deadline: float) -> None:
        """After a SIGTERM: wait until `deadline` (time.monotonic) for the leader to exit, then kill the group."""
        if self.popen is None:
            return
        try:
            self.popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill_group(signal.SIGKILL)
            self.popen.wait(5)
        self.kill_group(signal.SIGKILL)  # children a dead leader left behind

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return "(no log)"


def stop_all(procs, timeout: float = 10.0) -> None:
    """Stop several processes at once: SIGTERM to every group in the given order, then one shared grace
    period of `timeout` seconds before what is still running is killed."""
    procs = list(procs)
    for proc in procs:
        if proc.alive():
            proc.kill_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.wait_gone(deadline)


def wait_http(url: str, timeout: float = 20.0, proc: Proc | None = None) -> None:
    """Wait until `url` answers any HTTP status below 500."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.log_tail()}")
        try:
            r = requests.get(url, timeout=2)
            if r.status_code < 500:
                return
            last = r.status_code
        except requests.RequestException as e:
            last = e
        time.sleep(0.1)
    tail = proc.log_tail() if proc else ""
    raise RuntimeError(f"{url} not ready after {timeout}s ({last})\n{tail}")


def wait_until(predicate, timeout: float, interval: float = 0.2, message: str = "condition"):
    """Poll `predicate` until it returns a truthy value; return that value or fail with `message`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def child_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    env.update(overrides)
    return env
