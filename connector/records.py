"""The shapes of the ERP records the connector reads and writes, as TypedDicts (reference ERP API v1.1).

Units everywhere: money is a decimal string ("19.90", never a float); quantities are ints; timestamps
are ISO 8601 UTC strings with milliseconds ("2026-11-20T10:00:00.123Z"); ids are opaque strings.
Adapters for other ERPs translate into these shapes; keys marked NotRequired may be absent.
Not here: WooCommerce's records (the shop's own REST shapes, see connector/woo/port.py).
"""
from __future__ import annotations

from typing import NotRequired, TypedDict


class ErpProduct(TypedDict):
    """`list_products` / `products_by_sku` / `get_product`. A variant has `parent_id` and `attributes`;
    a parent (template) has `is_parent` true and no price of its own to sell."""
    id: str
    sku: str | None
    parent_id: str | None
    name: str
    description: NotRequired[str]
    list_price: str | None  # decimal string
    currency: NotRequired[str]
    tax_class: NotRequired[str]
    is_active: bool  # False: hide in the shop, never delete
    is_parent: NotRequired[bool]
    weight_kg: NotRequired[str | None]  # decimal string
    ean: NotRequired[str | None]
    category_code: NotRequired[str | None]
    attributes: NotRequired[dict[str, str]]
    modified_at: str


class StockRow(TypedDict):
    """`list_inventory`: one row per (sku, warehouse). Web stock = max(0, Σ over web warehouses of
    on_hand − reserved − safety_stock)."""
    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    safety_stock: int
    modified_at: str


class ErpCategory(TypedDict):
    """`list_categories` (contract v1.1)."""
    code: str
    name: str
    parent_code: str | None
    modified_at: str


class ShipmentLine(TypedDict):
    """One SKU of a shipment and the units of it shipped (an int)."""
    sku: str
    quantity: int


class ErpShipment(TypedDict):
    """`list_shipments`: one delivery of a sales order; partial deliveries are several shipments."""
    id: str
    sales_order_id: str
    external_ref: str | None  # "WC-ORDER-<shop order id>" for orders that came from the shop
    carrier: str | None
    tracking_number: str | None
    shipped_at: str | None
    lines: list[ShipmentLine]
    modified_at: str


class Address(TypedDict):
    """A postal address as the ERP takes it; empty optional parts are None or absent."""
    line1: str
    line2: NotRequired[str | None]
    city: str
    postcode: str
    state: NotRequired[str | None]
    country: str  # ISO 3166-1 alpha-2


class ErpCustomer(TypedDict):
    """`create_customer` takes it without `id`/`number`; find/get/update answer it with them."""
    id: NotRequired[str]
    number: NotRequired[str]
    external_ref: str
    email: str
    first_name: str
    last_name: str
    company: NotRequired[str | None]
    phone: NotRequired[str | None]
    vat_id: NotRequired[str | None]
    billing_address: Address
    shipping_address: NotRequired[Address | None]


class SalesOrderLine(TypedDict):
    """One order line. The ERP books quantity × unit_price rounded half-up to the cent, so `unit_price` may
    carry more than two decimals ("8.395"); the order mapper also sends `amount`, the line total before
    discounts as a decimal string, which the ERP checks against that product and keeps."""
    sku: str
    quantity: int
    unit_price: str  # decimal string, net of tax
    tax_rate: str  # percent, decimal string ("19.00")
    amount: NotRequired[str]  # the shop's line subtotal, decimal string; must equal quantity × unit_price
    description: NotRequired[str]


class SalesOrder(TypedDict):
    """`create_sales_order` takes it without the answer's keys (`id`, `number`, `status`, `created_at`).
    Totals add up: net = Σ quantity × unit_price − Σ discounts + shipping + Σ fees; gross = net + tax.
    Status: draft (creation interrupted), open, confirmed, partially_shipped, shipped, cancelled."""
    id: NotRequired[str]
    number: NotRequired[str | None]
    status: NotRequired[str]
    created_at: NotRequired[str]
    revision: NotRequired[int]  # the answer's amendment counter: a PATCH names the revision it read
    warehouse: NotRequired[str]  # the warehouse that ships it: named in the request, else chosen by the ERP
    external_ref: str  # "WC-ORDER-<shop order id>": the only idempotency key an ERP lookup has
    customer_id: str
    currency: str
    order_date: str
    billing_address: Address
    shipping_address: Address
    lines: list[SalesOrderLine]
    shipping: NotRequired[dict]  # {"method", "amount", "tax"}, decimal strings
    discounts: NotRequired[list[dict]]  # [{"code", "amount"}]
    fees: NotRequired[list[dict]]  # [{"name", "amount"}]
    totals: dict  # {"net", "tax", "gross"}, decimal strings
    payment: NotRequired[dict]  # {"method", "transaction_id", "paid_at"}
    note: NotRequired[str | None]
