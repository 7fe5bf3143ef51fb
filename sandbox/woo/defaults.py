"""Default REST API credentials of the WooCommerce sandbox (reference §1.1: `ck_`/`cs_` + 40 hex).

`DEFAULT_KEY`/`DEFAULT_SECRET` are the fixed fallbacks; `credentials()` applies the environment
overrides `WOO_CONSUMER_KEY`/`WOO_CONSUMER_SECRET` the same way `python -m sandbox.woo` does.
"""
from __future__ import annotations

import os

DEFAULT_KEY = "ck_" + "5a" * 20
DEFAULT_SECRET = "cs_" + "5b" * 20


def credentials() -> tuple[str, str]:
    """(consumer key, consumer secret) from the environment, else the defaults."""
    return (os.environ.get("WOO_CONSUMER_KEY") or DEFAULT_KEY,
            os.environ.get("WOO_CONSUMER_SECRET") or DEFAULT_SECRET)
