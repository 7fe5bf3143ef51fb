"""`GET /wp-json/wc/v3/system_status`: the parts of WooCommerce's system status report a client uses to
tell which shop it talks to (environment: home and site URL, versions, the install's `store_id`) and
which settings it runs with (currency, decimals). Read permission like the other resources.
"""
from __future__ import annotations

from sandbox.woo.rest import json_response

VERSION = "9.4.0"


def register(app, sb) -> None:
    @app.route("/wp-json/wc/v3/system_status", methods=["GET"], endpoint="system_status.get")
    def system_status():
        store = sb.store
        return json_response({
            "environment": {"home_url": store.home_url, "site_url": store.home_url, "store_id": store.store_id,
                            "version": VERSION, "wp_version": "6.7", "wp_multisite": False,
                            "default_timezone": "UTC"},
            "database": {"wc_database_version": VERSION, "database_prefix": "wp_"},
            "settings": {"api_enabled": True, "currency": "EUR", "currency_symbol": "&euro;",
                         "number_of_decimals": 2},
        })
