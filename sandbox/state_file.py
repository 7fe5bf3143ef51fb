"""`--state FILE`: a sandbox keeps its data in one file, so a restart continues where it stopped.

The store is loaded from the file at start (when it exists), written after changes (at most every
`interval` seconds, by a background thread, only when a request that may change data was served) and
once more on a clean stop. Writes go to a temporary file that replaces the old one, so a crash leaves the
previous complete state. Without `--state` (the default, and every test) everything stays in memory.

The file is a pickle of the store's attributes: a private cache written and read by the same program,
never input from elsewhere.
"""
from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

NOT_STATE = ("lock",)


class StateFile:
    def __init__(self, path: str | os.PathLike, store, *, keep: tuple[str, ...] = (), interval: float = 2.0):
        """`keep`: attributes set from the command line (e.g. the home URL) that the file must not override."""
        self.path, self.store, self.keep, self.interval = Path(path), store, keep, interval
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> bool:
        if not self.exists:
            return False
        with self.path.open("rb") as f:
            state = pickle.load(f)
        with self.store.lock:
            self.store.__dict__.update({k: v for k, v in state.items() if k not in NOT_STATE + self.keep})
        return True

    def save(self) -> None:
        with self.store.lock:
            data = pickle.dumps({k: v for k, v in self.store.__dict__.items() if k not in NOT_STATE},
                                protocol=pickle.HIGHEST_PROTOCOL)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def changed(self) -> None:
        self._dirty.set()

    def watch(self, app) -> None:
        """Mark the state changed after every request that is not a read, and write it in the background."""
        from flask import request

        @app.after_request
        def _mark(response):
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                self._dirty.set()
            return response

        self._thread = threading.Thread(target=self._loop, name="state-file", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if self._dirty.is_set():
                self._dirty.clear()
                self.save()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.save()
