"""Composition root: builds the database, adapters and use-cases from settings, once per process."""
from __future__ import annotations

from functools import cached_property

from connector import concurrency, ratelimit, shop_access
from connector.db import Database
from connector.erp.protocol import ErpAdapter
from connector.erp.rest import RestErp
from connector.logs import register_secrets
from connector.reconcile import Reconciler
from connector.settings import Settings
from connector.sync.inventory import InventorySync
from connector.sync.categories import CategorySync
from connector.sync.customers import CustomerLinker
from connector.sync.orders import OrderImporter
from connector.sync.products import ProductSync
from connector.sync.resync import FullResync
from connector.sync.shipments import ShipmentSync
from connector.woo.client import WooClient


class Services:
    """The composition root of one process: each property builds its part from `settings` on first use and
    keeps it (so one connection pool per process; build Services after forking). Building makes no
    remote call."""
    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def db(self) -> Database:
        """The Database at DATABASE_URL (migrations are not applied here)."""
        return Database(self.settings.database_url)

    @cached_property
    def woo(self) -> WooClient:
        """The WooClient for WOO_URL; with WOO_RATE_LIMIT > 0, rate-limited by a fleet-wide token bucket in
        Redis (WOO_RATE_BURST)."""
        s = self.settings
        return WooClient(s.woo_url, s.woo_consumer_key, s.woo_consumer_secret, timeout=s.woo_timeout,
                         limiter=ratelimit.bucket(s.broker_url, "woocommerce", s.woo_rate_limit, s.woo_rate_burst),
                         on_denied=lambda exc, request: shop_access.record(s.broker_url, exc, request),
                         slots=concurrency.semaphore(s.broker_url, "woocommerce", s.woo_max_concurrency,
                                                     lease_seconds=s.woo_timeout + 10))

    @cached_property
    def erp(self) -> ErpAdapter:
        """The adapter ERP_KIND names: the reference REST API (default) or Tryton over JSON-RPC."""
        s = self.settings
        limiter = ratelimit.bucket(s.broker_url, "erp", s.erp_rate_limit, s.erp_rate_burst)
        if s.erp_kind == "tryton":
            from connector.erp.tryton import TrytonErp
            from connector.erp.tryton_rpc import TrytonRpc
            register_secrets(s.tryton_password)
            rpc = TrytonRpc(s.tryton_url, s.tryton_database, s.tryton_user, s.tryton_password,
                            timeout=s.erp_timeout, limiter=limiter)
            return TrytonErp(rpc, warehouses=s.tryton_warehouses, sale_warehouse=s.tryton_sale_warehouse,
                             stock_basis=s.tryton_stock_basis, confirm_sales=s.tryton_confirm_sales)
        return RestErp(s.erp_url, s.erp_token, timeout=s.erp_timeout, limiter=limiter)

    @cached_property
    def orders(self) -> OrderImporter:
        """The OrderImporter (import statuses, currencies, order lease and VAT meta keys from settings)."""
        s = self.settings
        return OrderImporter(self.db, self.woo, self.erp, import_statuses=s.import_statuses,
                             currencies=s.currencies, lease_seconds=s.order_lease_seconds,
                             vat_meta_keys=s.vat_meta_keys)

    @cached_property
    def customers(self) -> CustomerLinker:
        """The CustomerLinker for `customer.updated` deliveries (the importer builds its own)."""
        s = self.settings
        return CustomerLinker(self.db, self.woo, self.erp, vat_meta_keys=s.vat_meta_keys,
                              lease_seconds=s.order_lease_seconds)

    @cached_property
    def shipments(self) -> ShipmentSync:
        """The ShipmentSync."""
        return ShipmentSync(self.db, self.woo, self.erp, lease_seconds=self.settings.order_lease_seconds)

    @cached_property
    def products(self) -> ProductSync:
        """The ProductSync, sharing this process's InventorySync and CategorySync."""
        return ProductSync(self.db, self.woo, self.erp, self.inventory, categories=self.categories)

    @cached_property
    def categories(self) -> CategorySync:
        """The CategorySync."""
        return CategorySync(self.db, self.woo)

    @cached_property
    def inventory(self) -> InventorySync:
        """The InventorySync over the web warehouses of WEB_WAREHOUSES."""
        return InventorySync(self.db, self.woo, self.settings.web_warehouses)

    @cached_property
    def resync(self) -> FullResync:
        """The FullResync, over this process's ProductSync and InventorySync."""
        return FullResync(self.db, self.woo, self.erp, self.products, self.inventory)

    @cached_property
    def reconciler(self) -> Reconciler:
        """The Reconciler (web warehouses, import statuses and the grace periods from settings)."""
        s = self.settings
        return Reconciler(self.db, self.woo, self.erp, warehouses=s.web_warehouses, import_statuses=s.import_statuses,
                          order_grace_minutes=s.reconcile_order_grace_minutes,
                          change_grace_minutes=s.reconcile_change_grace_minutes)
