"""A real Tryton server with demo data, for `make run ERP=tryton` and the Tryton adapter's tests.

`database.py` builds an initialised SQLite database once (modules activated, demo data loaded) and
keeps it in a cache keyed on the trytond version, the module list and these files; `demo.py` is the
demo data; `python -m sandbox.tryton --port N` serves a copy of it with `trytond`.
"""
from __future__ import annotations

# the modules activated (their dependencies come along): sale brings account, company, currency, country,
# party, product and stock; product_attribute gives variants their attributes; sale_amendment (with
# sale_history) amends confirmed sales
MODULES = ("sale", "product_attribute", "sale_amendment")
DATABASE = "wooerp"
ADMIN_PASSWORD = "tryton-sandbox-admin"  # `admin`, only for trytond-admin and the demo script
USER = "wooerp"  # the connector's JSON-RPC login (groups: sales, stock, parties)
PASSWORD = "tryton-sandbox-password"
WAREHOUSES = ("MAIN", "STORE2")
