"""`<resource>/batch` endpoints (reference §5, `WC_REST_Controller::batch_items`).

More than 100 create+update+delete items → 413 `woocommerce_rest_request_entity_too_large` and
nothing is applied. Otherwise creates, then updates, then deletes run one by one through the
single-item code (deletes forced); a failing item becomes `{"id", "error":{code,message,data}}`
(`id` 0 for creates) and the others still apply. HTTP 200 always; only requested keys come back
(an empty request answers `[]`, PHP's empty array).
"""
from __future__ import annotations

from typing import Callable

from sandbox.woo.rest import ApiError

LIMIT = 100


def run_batch(body: dict, create: Callable[[dict], dict], update: Callable[[dict], dict],
              delete: Callable[[int], dict]) -> tuple[dict | list, int]:
    """Returns (response body, number of items processed)."""
    ops = {k: body[k] for k in ("create", "update", "delete") if isinstance(body.get(k), list) and body[k]}
    count = sum(len(v) for v in ops.values())
    if count > LIMIT:
        raise ApiError("woocommerce_rest_request_entity_too_large",
                       f"Unable to accept more than {LIMIT} items for this request.", 413)
    out: dict[str, list] = {}
    for item in ops.get("create", []):
        out.setdefault("create", []).append(_one(lambda: create(item if isinstance(item, dict) else {}), 0))
    for item in ops.get("update", []):
        item = item if isinstance(item, dict) else {}
        out.setdefault("update", []).append(_one(lambda: update(item), item.get("id")))
    for raw in ops.get("delete", []):
        try:
            rid = int(raw)
        except (TypeError, ValueError):
            continue
        if rid > 0:
            out.setdefault("delete", []).append(_one(lambda: delete(rid), rid))
    return (out or []), count


def _one(call: Callable[[], dict], rid) -> dict:
    try:
        return call()
    except ApiError as e:
        return {"id": rid, "error": {"code": e.code, "message": e.message, "data": e.data}}
