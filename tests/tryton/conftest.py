"""Build the cached Tryton demo database in the background as soon as a Tryton test is collected.

On an empty cache the build takes about a minute; started at collection it overlaps with the tests that
run before the first Tryton test, which then only waits for the rest (sandbox/tryton/database.py's lock).
"""
from __future__ import annotations

import threading

from sandbox.tryton import DATABASE
from sandbox.tryton.database import cache_key, cache_root


def pytest_collection_modifyitems(session, config, items):
    if not any("tryton" in item.nodeid for item in items):
        return
    if (cache_root() / cache_key() / f"{DATABASE}.sqlite").exists():
        return
    from sandbox.tryton.database import cached
    threading.Thread(target=cached, kwargs={"log": lambda _line: None}, name="tryton-cache", daemon=True).start()
