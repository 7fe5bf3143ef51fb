"""Demo data for a fresh Tryton database: `python -m sandbox.tryton.demo CONFIG DATABASE`.

Runs inside trytond (not over RPC), once, when the cached database is built. It sets up what a shop
selling from Tryton needs and nothing more: the EUR currency, a company, a few countries, two
warehouses (MAIN, the renamed default one, and STORE2), sales invoiced manually by default and shipped on
confirmation, Tryton's minimal chart of accounts with fiscal years (so a test can switch the invoice method to
`order` or `fulfillment` and post invoices), the connector's user `wooerp` with
the sales, sale amendment, stock and party groups, and a small catalog with stock: simple products and a template
with three variants (product_attribute colour and size).
"""
from __future__ import annotations

import sys
from decimal import Decimal

from sandbox.tryton import PASSWORD, USER

COUNTRIES = {"DE": "Germany", "AT": "Austria", "CH": "Switzerland", "FR": "France", "NL": "Netherlands",
             "BE": "Belgium", "IT": "Italy", "ES": "Spain", "GB": "United Kingdom", "US": "United States",
             "SE": "Sweden", "DK": "Denmark", "PL": "Poland"}
# code: (name, list price, category, {warehouse: on hand})
SIMPLE = {
    "MUG-BLUE": ("Blue mug", "12.50", "KITCHEN", {"MAIN": 10, "STORE2": 4}),
    "MUG-RED": ("Red mug", "12.50", "KITCHEN", {"MAIN": 6}),
    "CAP-GREY": ("Grey cap", "15.00", "APPAREL", {"MAIN": 25, "STORE2": 5}),
    "POSTER-A2": ("Poster A2", "9.90", "DECOR", {"STORE2": 12}),
}
TEMPLATE = ("TEE", "T-shirt", "19.90", "APPAREL")
VARIANTS = {  # suffix: (colour, size, {warehouse: on hand})
    "-RED-M": ("red", "M", {"MAIN": 30}),
    "-RED-L": ("red", "L", {"MAIN": 20, "STORE2": 3}),
    "-BLUE-M": ("blue", "M", {"MAIN": 15}),
}


def load(pool) -> None:
    from trytond.transaction import Transaction
    get = pool.get
    data = get("ir.model.data")
    currency, = get("currency.currency").create([{"name": "Euro", "code": "EUR", "symbol": "€",
                                                   "rounding": Decimal("0.01"), "digits": 2}])
    get("country.country").create([{"code": code, "name": name} for code, name in COUNTRIES.items()])
    party, = get("party.party").create([{"name": "Demo Shop GmbH"}])
    company, = get("company.company").create([{"party": party.id, "currency": currency.id, "timezone": "UTC"}])
    with Transaction().set_context(company=company.id):
        warehouses = _warehouses(get, data)
        config = get("sale.configuration")(1)
        config.sale_invoice_method = "manual"
        config.sale_shipment_method = "order"
        config.save()
        groups = [data.get_id(module, name) for module, name in (
            ("sale", "group_sale"), ("stock", "group_stock"), ("party", "group_party_admin"),
            ("product", "group_product_admin"), ("sale_amendment", "group_sale_amendment"))]
        user_model = get("res.user")
        user_model.create([{"name": "WooERP connector", "login": USER, "password": PASSWORD,
                            "companies": [("add", [company.id])], "company": company.id,
                            "warehouse": warehouses["MAIN"].id, "groups": [("add", groups)]}])
        admin, = user_model.search([("login", "=", "admin")])
        user_model.write([admin], {"companies": [("add", [company.id])], "company": company.id,
                                   "warehouse": warehouses["MAIN"].id})
        revenue = _accounting(get, data, company)
        stock = _catalog(get, data, revenue)
        _receive(get, data, company, warehouses, stock)


def _warehouses(get, data) -> dict:
    """MAIN is the default warehouse renamed; STORE2 gets its own input, output and storage zones."""
    location = get("stock.location")
    main = location(data.get_id("stock", "location_warehouse"))
    main.name, main.code = "Main DC", "MAIN"
    main.save()
    zones = location.create([{"name": f"Store 2 {zone}", "type": "storage"} for zone in ("input", "output", "storage")])
    store2, = location.create([{"name": "Store 2", "code": "STORE2", "type": "warehouse",
                                "input_location": zones[0].id, "output_location": zones[1].id,
                                "storage_location": zones[2].id}])
    location.write(list(zones), {"parent": store2.id})
    return {"MAIN": main, "STORE2": store2}


def _accounting(get, data, company):
    """Tryton's minimal English chart for the company (the account wizard's first step), its receivable and
    payable accounts as the defaults, and fiscal years from last year to three years ahead with monthly periods
    and one invoice sequence each. Returns an accounting product category whose revenue account the products
    use: invoicing a sale (invoice method `order`, `fulfillment`, or a person's manual invoice) needs it."""
    import datetime
    account = get("account.account")
    wizard = get("account.create_chart", type="wizard")
    session, _, _ = wizard.create()
    chart = wizard(session)
    chart.account.account_template = get("account.account.template")(data.get_id("account",
                                                                                  "account_template_root_en"))
    chart.account.company = company
    chart.transition_create_account()

    def one(kind):
        party = [("party_required", "=", True)] if kind in ("receivable", "payable") else []
        return account.search([(f"type.{kind}", "=", True), ("closed", "!=", True), ("company", "=", company.id), *party],
                              limit=1)[0]
    receivable, payable, revenue, expense = (one(k) for k in ("receivable", "payable", "revenue", "expense"))
    config = get("account.configuration")(1)
    config.default_account_receivable, config.default_account_payable = receivable, payable
    config.default_category_account_revenue, config.default_category_account_expense = revenue, expense
    config.save()
    strict, kinds = get("ir.sequence.strict"), get("ir.sequence.type")
    move_kind, = kinds.search([("name", "=", "Account Move")], limit=1)
    invoice_kind, = kinds.search([("name", "=", "Invoice")], limit=1)
    fiscal = get("account.fiscalyear")
    this_year = datetime.date.today().year
    for year in range(this_year - 1, this_year + 4):
        moves, invoices = strict.create([{"name": f"Moves {year}", "sequence_type": move_kind.id,
                                          "company": company.id},
                                         {"name": f"Invoices {year}", "sequence_type": invoice_kind.id,
                                          "company": company.id}])
        fy, = fiscal.create([{"name": str(year), "company": company.id, "move_sequence": moves.id,
                              "start_date": datetime.date(year, 1, 1), "end_date": datetime.date(year, 12, 31),
                              "invoice_sequences": [("create", [{
                                  "company": company.id, **{f"{d}_{k}_sequence": invoices.id for d in ("in", "out")
                                                            for k in ("invoice", "credit_note")}}])]}])
        fiscal.create_period([fy])
    category, = get("product.category").create([{"name": "Sales (accounting)", "accounting": True,
                                                 "account_revenue": revenue.id, "account_expense": expense.id}])
    return category


def _catalog(get, data, revenue) -> list[tuple[object, dict]]:
    """Products with codes (our SKUs), booked to the `revenue` accounting category; returns (product,
    {warehouse: on hand}) to receive."""
    unit = data.get_id("product", "uom_unit")
    names = {category for *_, category, _ in SIMPLE.values()} | {TEMPLATE[3]}
    categories = {name: get("product.category")(name=name) for name in sorted(names)}
    get("product.category").save(list(categories.values()))
    template_model = get("product.template")
    base = {"type": "goods", "default_uom": unit, "sale_uom": unit, "salable": True, "account_category": revenue.id}
    stock = []
    for code, (name, price, category, on_hand) in SIMPLE.items():
        template, = template_model.create([dict(base, name=name, list_price=Decimal(price),
                                                categories=[("add", [categories[category].id])],
                                                products=[("create", [{"suffix_code": code,
                                                                       "description": f"{name}, demo"}])])])
        stock.append((template.products[0], on_hand))
    attribute_model = get("product.attribute")
    colour, size = attribute_model.create([
        {"name": "color", "string": "Colour", "type_": "selection", "selection": "red:Red\nblue:Blue"},
        {"name": "size", "string": "Size", "type_": "selection", "selection": "M:M\nL:L"}])
    attribute_set, = get("product.attribute.set").create([{"name": "Apparel",
                                                           "attributes": [("add", [colour.id, size.id])]}])
    code, name, price, category = TEMPLATE
    template, = template_model.create([dict(
        base, name=name, code=code, list_price=Decimal(price), attribute_set=attribute_set.id,
        categories=[("add", [categories[category].id])],
        products=[("create", [{"suffix_code": suffix, "attributes": {"color": c, "size": s}}
                              for suffix, (c, s, _) in VARIANTS.items()])])])
    by_suffix = {p.suffix_code: p for p in template.products}
    stock += [(by_suffix[suffix], on_hand) for suffix, (_, _, on_hand) in VARIANTS.items()]
    return stock


def _receive(get, data, company, warehouses, stock) -> None:
    """On-hand stock: done moves from lost-and-found into each warehouse's storage zone."""
    move = get("stock.move")
    lost = data.get_id("stock", "location_lost_found")
    moves = move.create([{"product": product.id, "unit": product.default_uom.id, "quantity": float(qty),
                          "from_location": lost, "to_location": warehouses[wh].storage_location.id,
                          "company": company.id}
                         for product, on_hand in stock for wh, qty in on_hand.items()])
    move.do(moves)


def main(argv: list[str]) -> int:
    config_file, database = argv
    import trytond.config as config
    config.update_etc(config_file)
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError
    Pool.start()
    pool = Pool(database)
    pool.init()
    extras: dict = {}
    while True:  # a table lock makes trytond ask for a fresh transaction that takes it up front
        with Transaction().start(database, 0, context={"active_test": False}, **extras) as transaction:
            try:
                load(pool)
            except TransactionError as e:
                transaction.rollback()
                e.fix(extras)
                continue
            transaction.commit()
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
