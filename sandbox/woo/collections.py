"""Collection endpoints: common list params, paging and headers (reference §3.1, §3.2).

`parse_query` validates `page`, `per_page` (1..100, default 10), `offset`, `order`, `orderby`,
`include`/`exclude`, `after`/`before`/`modified_after`/`modified_before` (+ `dates_are_gmt`) and
`search` the way WP core does (400 `rest_invalid_param` with `params`/`details`).
`select` runs the query: over the sorted index when ordering by id/date/modified (bisect for the
matching date range, then only the page is materialised), else over the candidate records.
`list_response` adds `X-WP-Total`, `X-WP-TotalPages` and the `Link` prev/next header.
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import urlencode

from flask import Response, current_app, has_app_context, request

from sandbox.woo.rest import arg, arg_list, invalid_params, json_response, parse_date, truthy

BASE_ORDERBY = ("date", "id", "include", "title", "slug", "modified")
INF = float("inf")


@dataclass
class Query:
    page: int
    per_page: int
    offset: int | None
    order: str
    orderby: str
    include: list[int] | None
    exclude: set[int]
    created: tuple[int | None, int | None]
    modified: tuple[int | None, int | None]
    search: str | None


def _int_arg(name: str, problems: dict, default=None, low=None, high=None):
    raw = arg(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems[name] = ("rest_invalid_type", f"{name} is not of type integer.")
        return default
    if high is not None and not low <= value <= high:
        problems[name] = ("rest_out_of_bounds", f"{name} must be between {low} (inclusive) and {high} (inclusive)")
    elif low is not None and value < low:
        problems[name] = ("rest_out_of_bounds", f"{name} must be greater than or equal to {low}")
    return value


def _id_list(name: str, problems: dict) -> list[int] | None:
    values = arg_list(name)
    if values is None:
        return None
    for i, v in enumerate(values):
        if not v.lstrip("-").isdigit():
            problems[name] = ("rest_invalid_type", f"{name}[{i}] is not of type integer.")
            return None
    return [int(v) for v in values]


def parse_query(offset_minutes: int, orderby_choices: tuple = BASE_ORDERBY) -> Query:
    problems: dict[str, tuple[str, str]] = {}
    page = _int_arg("page", problems, 1, low=1)
    per_page = _int_arg("per_page", problems, 10, low=1, high=100)
    offset = _int_arg("offset", problems)
    order = arg("order", "desc")
    if order not in ("asc", "desc"):
        problems["order"] = ("rest_not_in_enum", "order is not one of asc, desc.")
    orderby = arg("orderby", "date")
    if orderby not in orderby_choices:
        problems["orderby"] = ("rest_not_in_enum", f"orderby is not one of {', '.join(orderby_choices)}.")
    include, exclude = _id_list("include", problems), _id_list("exclude", problems)
    tz = 0 if truthy(arg("dates_are_gmt")) else offset_minutes
    dates = {}
    for name in ("after", "before", "modified_after", "modified_before"):
        raw = arg(name)
        dates[name] = None if raw in (None, "") else parse_date(raw, tz)
        if raw not in (None, "") and dates[name] is None:
            problems[name] = ("rest_invalid_date", "Invalid date.")
    if problems:
        raise invalid_params(problems)
    return Query(page, per_page, offset, order, orderby, include or None, set(exclude or ()),
                 (dates["after"], dates["before"]), (dates["modified_after"], dates["modified_before"]),
                 arg("search") or None)


def _in_range(value: int, bounds: tuple[int | None, int | None]) -> bool:
    low, high = bounds
    return (low is None or value > low) and (high is None or value < high)


def select(q: Query, coll, records: Iterable[dict] | None, match: Callable[[dict], bool] | None,
           sort_value: Callable[[dict], object] | None = None) -> tuple[list[dict], int]:
    """One page of matching records and the total match count.

    With `records` None the collection's listed records (the `status=any` view) are used, through
    its sorted index; `match` is the resource-specific filter incl. `search` (None = none);
    `sort_value` serves the other orderbys."""
    start = q.offset if q.offset is not None else (q.page - 1) * q.per_page
    include = set(q.include) if q.include else None
    if records is None and include is not None:
        records = [coll.items[i] for i in include if i in coll.items and coll.listed(coll.items[i])]

    examined = 0

    def keep(rec: dict) -> bool:
        nonlocal examined
        examined += 1
        return ((include is None or rec["id"] in include) and rec["id"] not in q.exclude
                and _in_range(rec["created"], q.created) and _in_range(rec["modified"], q.modified)
                and (match is None or match(rec)))

    if records is None and q.orderby in ("id", "date", "modified"):
        get, keys = coll.items.__getitem__, coll.index.by[q.orderby]
        bounds = {"date": q.created, "modified": q.modified}.get(q.orderby, (None, None))
        lo = 0 if bounds[0] is None else bisect_right(keys, (bounds[0], INF))
        hi = len(keys) if bounds[1] is None else bisect_left(keys, (bounds[1], -INF))
        ordered = range(lo, hi) if q.order == "asc" else range(hi - 1, lo - 1, -1)
        residual = (match is not None or q.exclude
                    or (q.orderby != "modified" and q.modified != (None, None))
                    or (q.orderby != "date" and q.created != (None, None)))
        if not residual:
            page_ids = [keys[i][1] for i in ordered[start:start + q.per_page]]
            _count_examined(len(page_ids))
            return [get(i) for i in page_ids], max(hi - lo, 0)
        total, page = 0, []
        for i in ordered:
            rec = get(keys[i][1])
            if keep(rec):
                if start <= total < start + q.per_page:
                    page.append(rec)
                total += 1
        _count_examined(examined)
        return page, total

    if records is None:
        records = (coll.items[k[1]] for k in coll.index.by["id"])
    found = [r for r in records if keep(r)]
    _count_examined(examined)
    if q.orderby == "include" and q.include:
        position = {v: i for i, v in enumerate(q.include)}
        found.sort(key=lambda r: position.get(r["id"], 0), reverse=q.order == "desc")
    else:
        key = {"id": lambda r: (r["id"],), "date": lambda r: (r["created"], r["id"]),
               "modified": lambda r: (r["modified"], r["id"])}.get(q.orderby)
        found.sort(key=key or (lambda r: (sort_value(r), r["id"])), reverse=q.order == "desc")
    return found[start:start + q.per_page], len(found)


def _count_examined(n: int) -> None:
    """Tell the sandbox's stats how many records this listing looked at (`records_examined`)."""
    sandbox = current_app.extensions.get("woo_sandbox") if has_app_context() else None
    if sandbox is not None:
        sandbox.stats.examined(n)


def list_response(items: list[dict], total: int, q: Query) -> Response:
    pages = math.ceil(total / q.per_page) if total else 0
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    links = []
    if q.page > 1:
        links.append(f'<{_page_url(min(q.page - 1, max(pages, 1)))}>; rel="prev"')
    if pages > q.page:
        links.append(f'<{_page_url(q.page + 1)}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    return json_response(items, 200, headers)


def _page_url(page: int) -> str:
    """The request URL with PHP-deduplicated query params and `page` replaced (add_query_arg)."""
    params: dict[str, object] = {}
    for k, v in request.args.items(multi=True):
        if k.endswith("[]"):
            params.setdefault(k, []).append(v)
        else:
            params[k] = v
    params["page"] = str(page)
    return f"{request.base_url}?{urlencode(params, doseq=True)}"

