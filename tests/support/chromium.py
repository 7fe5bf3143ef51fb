"""Headless Chromium (Debian's `chromium` package) driven over the DevTools protocol on a pipe.

`--remote-debugging-pipe` speaks CDP as NUL-terminated JSON on file descriptors 3 (commands in) and 4
(answers and events out): no websocket library, no browser download, nothing but the standard library.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-pipe"]


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, user_data_dir: str, log_path: str):
        binary = find_chromium()
        if binary is None:
            raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
        log = open(log_path, "ab")
        # fd 3 ← our stdin pipe, fd 4 → our stdout pipe; Chromium's own output goes to the log
        self.proc = subprocess.Popen(
            ["sh", "-c", 'exec "$@" 3<&0 4>&1 0</dev/null 1>&2', "sh", binary, *FLAGS,
             f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
        log.close()
        self._next_id, self._buffer, self.session = 0, b"", None

    # -- protocol ------------------------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        self.proc.stdin.write(json.dumps(message).encode() + b"\0")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
        raise TimeoutError(f"no answer to {method}")

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    # -- what a test needs ---------------------------------------------------------------------------
    def open_tab(self, user: str | None = None, password: str | None = None) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Network.enable")
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.send("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})

    def go(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression: str):
        return self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})["result"].get("value")

    def text_when(self, predicate, timeout: float = 30) -> str:
        """The page's visible text, once predicate(text) holds."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.evaluate("document.body ? document.body.innerText : ''") or ""
            if predicate(text):
                return text
            time.sleep(0.3)
        raise AssertionError(f"page never showed what was expected; it shows:\n{text[:3000]}")

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
