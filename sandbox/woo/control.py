"""`/_sandbox/*` control routes (no auth, never faulted): faults, profile (how real the shop behaves,
`profile.py`), stats, reset, seed, checkout and paying a checkout draft,
delivery log, restore from trash (admin "Restore" → `*.restored` webhooks, §7.1) and extra API keys
with a chosen permission level (§1.1)."""
from __future__ import annotations

from flask import request

from sandbox.woo.checkout import checkout, pay
from sandbox.woo.rest import ApiError, body_params, json_response, to_int
from sandbox.woo.seed import seed_products

BASE = "/_sandbox"


def register(app, sb) -> None:
    @app.route(BASE + "/faults", methods=["GET"], endpoint="sandbox.faults_get")
    def faults_get():
        return json_response(sb.faults.snapshot())

    @app.route(BASE + "/faults", methods=["PUT", "POST"], endpoint="sandbox.faults_put")
    def faults_put():
        try:
            sb.faults.configure(body_params())
        except (ValueError, TypeError) as e:
            raise ApiError("sandbox_invalid_faults", str(e), 400) from None
        return json_response(sb.faults.snapshot())

    @app.route(BASE + "/faults", methods=["DELETE"], endpoint="sandbox.faults_delete")
    def faults_delete():
        sb.faults.clear()
        return json_response(sb.faults.snapshot())

    @app.route(BASE + "/stats", methods=["GET"], endpoint="sandbox.stats")
    def stats():
        return json_response(sb.stats.snapshot(sb.faults.counts))

    @app.route(BASE + "/stats/reset", methods=["POST"], endpoint="sandbox.stats_reset")
    def stats_reset():
        sb.stats.reset()
        sb.faults.reset_counts()
        return json_response(sb.stats.snapshot(sb.faults.counts))

    @app.route(BASE + "/reset", methods=["POST"], endpoint="sandbox.reset")
    def reset():
        sb.dispatcher.clear()
        sb.store.reset()
        return json_response({"reset": True})

    @app.route(BASE + "/seed", methods=["POST"], endpoint="sandbox.seed")
    def seed():
        p = body_params()
        n, seed_value = to_int(p.get("products", 0)), to_int(p.get("seed", 42))
        if not 0 <= n <= 1_000_000:
            raise ApiError("sandbox_invalid_seed", "products must be within 0..1000000", 400)
        return json_response(seed_products(sb.store, n, seed_value), 201)

    @app.route(BASE + "/checkout", methods=["POST"], endpoint="sandbox.checkout")
    def place_order():
        return json_response(checkout(sb, body_params()), 201)

    @app.route(BASE + "/pay/<int:id>", methods=["POST"], endpoint="sandbox.pay")
    def pay_draft(id):
        return json_response(pay(sb, id))

    @app.route(BASE + "/profile", methods=["GET"], endpoint="sandbox.profile_get")
    def profile_get():
        return json_response(sb.profile.snapshot())

    @app.route(BASE + "/profile", methods=["PUT", "POST"], endpoint="sandbox.profile_put")
    def profile_put():
        try:
            return json_response(sb.profile.configure(body_params()))
        except (ValueError, TypeError) as e:
            raise ApiError("sandbox_invalid_profile", str(e), 400) from None

    @app.route(BASE + "/deliveries", methods=["GET"], endpoint="sandbox.deliveries")
    def deliveries():
        wid, since = request.args.get("webhook_id"), request.args.get("since")
        return json_response(sb.dispatcher.log(to_int(wid) if wid else None, float(since) if since else None))

    @app.route(BASE + "/restore/<int:id>", methods=["POST"], endpoint="sandbox.restore")
    def restore(id):
        store = sb.store
        with store.lock:
            for kind, coll in (("order", store.orders), ("product", store.products)):
                rec = coll.items.get(id)
                if rec is not None and rec["status"] == "trash":
                    before = coll.state(rec)
                    rec["status"], rec["modified"] = rec.pop("pre_trash_status", "publish"), store.now()
                    coll.changed(rec, before)
                    sb.emit(kind, "restored", id)
                    return json_response({"id": id, "type": kind, "status": rec["status"]})
        raise ApiError("sandbox_not_in_trash", f"No trashed order or product {id}.", 404)

    @app.route(BASE + "/keys", methods=["POST"], endpoint="sandbox.keys")
    def keys():
        perm = body_params().get("permissions", "read_write")
        if perm not in ("read", "write", "read_write"):
            raise ApiError("sandbox_invalid_permissions", "permissions must be read, write or read_write", 400)
        return json_response(sb.keys.generate(perm), 201)
