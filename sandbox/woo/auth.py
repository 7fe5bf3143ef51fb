"""API-key authentication of the WooCommerce REST API (reference §1.2, §2.2).

Tried in order, as `WC_REST_Authentication` does:
1. "Basic" credentials: `consumer_key`/`consumer_secret` query params, else HTTP Basic. The real store
   honours these only over HTTPS; the sandbox accepts them over plain HTTP (conformance README).
   Unknown key → not authenticated (401 `woocommerce_rest_cannot_view` later); wrong secret →
   401 `woocommerce_rest_authentication_error` with a `WWW-Authenticate: Basic` realm.
2. OAuth 1.0a one-legged: params from the query (PHP semantics: last duplicate wins), a form body
   or an `Authorization: OAuth` header; HMAC-SHA1/SHA256 with key `secret&` over
   `METHOD&enc(url the client used)&enc(sorted params)`, enc = PHP rawurlencode of the values as received
   (no second decoding, "/" escaped); ±15 min timestamp; nonces remembered 15 min.
Then the key's permission (`read`, `write`, `read_write`) is checked against the HTTP method.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from urllib.parse import quote, unquote

from flask import request

from sandbox.woo.rest import ApiError

WINDOW = 15 * 60
OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
REALM = ('Basic realm="WooCommerce API. Use a consumer key in the username field and a consumer secret '
         'in the password field."')


def _auth_error(message: str, **headers) -> ApiError:
    return ApiError("woocommerce_rest_authentication_error", message, 401, headers=headers or None)


class KeyRing:
    """Consumer keys with their secret, permission level and used OAuth nonces."""

    def __init__(self):
        self.www_authenticate = True
        self._lock = threading.Lock()
        self._keys: dict[str, dict] = {}

    def add(self, key: str, secret: str, permissions: str = "read_write") -> dict:
        with self._lock:
            self._keys[key] = {"key": key, "secret": secret, "permissions": permissions, "nonces": {}}
            return {"consumer_key": key, "consumer_secret": secret, "permissions": permissions}

    def generate(self, permissions: str) -> dict:
        return self.add("ck_" + secrets.token_hex(20), "cs_" + secrets.token_hex(20), permissions)

    def get(self, key: str) -> dict | None:
        return self._keys.get(key)

    def use_nonce(self, rec: dict, nonce: str, ts: int) -> bool:
        """Remember the nonce; False if this key used it within the window."""
        now = time.time()
        with self._lock:
            nonces = rec["nonces"]
            for old in [n for n, t in nonces.items() if t < now - WINDOW]:
                del nonces[old]
            if nonce in nonces:
                return False
            nonces[nonce] = ts
            return True


def authenticate(ring: KeyRing) -> dict | None:
    """The key record of the caller, None if the request is not authenticated; raises on auth errors."""
    rec = _basic(ring)
    if rec is None:
        rec = _oauth(ring)
    if rec is not None:
        _check_permission(rec)
    return rec


def _basic(ring: KeyRing) -> dict | None:
    key, secret = _last("consumer_key"), _last("consumer_secret")
    if not (key and secret):
        creds = request.authorization
        if creds is None or creds.type != "basic" or not creds.username:
            return None
        key, secret = creds.username, creds.password or ""
    rec = ring.get(key)
    if rec is None:
        return None
    if not hmac.compare_digest(rec["secret"].encode(), secret.encode()):
        # the docs show a Basic realm here; a real WooCommerce 8.2 sent none (§11, profile `wc82_answers`)
        raise _auth_error("Consumer secret is invalid.", **({"WWW-Authenticate": REALM} if ring.www_authenticate else {}))
    return rec


def _last(name: str) -> str | None:
    values = request.args.getlist(name)
    return values[-1] if values else None


def _oauth_params() -> dict:
    """PHP array_merge($_GET, $_POST, header params): last duplicate wins, `k[]` keys become lists."""
    params: dict = {}
    pairs = list(request.args.items(multi=True))
    if request.mimetype == "application/x-www-form-urlencoded":
        pairs += list(request.form.items(multi=True))
    for k, v in pairs:
        if k.endswith("[]"):
            params.setdefault(k[:-2], [])
            if isinstance(params[k[:-2]], list):
                params[k[:-2]].append(v)
        else:
            params[k] = v
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "oauth ":
        for part in header[6:].split(","):
            name, _, value = part.strip().partition("=")
            if name.startswith("oauth_"):
                params[name] = unquote(value.strip().strip('"'))
    return params


def _oauth(ring: KeyRing) -> dict | None:
    params = _oauth_params()
    missing = [p for p in OAUTH_PARAMS if not params.get(p)]
    if len(missing) == len(OAUTH_PARAMS):
        return None
    if missing:
        word = "parameter" if len(missing) == 1 else "parameters"
        raise ApiError("woocommerce_rest_authentication_missing_parameter",
                       f"Missing OAuth {word} {', '.join(missing)}", 401)
    rec = ring.get(str(params["oauth_consumer_key"]))
    if rec is None:
        raise _auth_error("Consumer key is invalid.")
    method = params["oauth_signature_method"]
    if method not in ("HMAC-SHA1", "HMAC-SHA256"):
        raise _auth_error("Invalid signature - signature method is invalid.")
    given = unquote(str(params["oauth_signature"]).replace(" ", "+"))
    signed = {k: v for k, v in params.items() if k != "oauth_signature"}
    url = request.host_url.rstrip("/") + request.path
    # exactly WooCommerce's check: the values as received (decoded once), rawurlencoded ("/" too); a client
    # that decodes a value again (`%41`) or leaves "/" unescaped is refused, as the real shop refuses it
    if not hmac.compare_digest(_signature(signed, url, method, rec["secret"]), given):
        raise _auth_error("Invalid signature - provided signature does not match.")
    try:
        ts = int(params["oauth_timestamp"])
    except ValueError:
        ts = 0
    if abs(time.time() - ts) > WINDOW:
        raise _auth_error("Invalid timestamp.")
    if not ring.use_nonce(rec, str(params["oauth_nonce"]), ts):
        raise _auth_error("Invalid nonce - nonce has already been used.")
    return rec


def _signature(params: dict, url: str, method: str, secret: str) -> str:
    def enc(s: str) -> str:  # PHP rawurlencode
        return quote(str(s), safe="~")

    pairs = []
    for key in sorted(params, key=lambda k: k.encode()):  # uksort(strcmp)
        value = params[key]
        if isinstance(value, list):
            pairs += [(f"{enc(key)}%5B{i}%5D", enc(v)) for i, v in enumerate(value)]
        else:
            pairs.append((enc(key), enc(value)))
    query = "%26".join(enc(f"{k}={v}") for k, v in pairs)
    base = f"{request.method}&{quote(url, safe='')}&{query}"
    digest = hashlib.sha1 if method == "HMAC-SHA1" else hashlib.sha256
    return base64.b64encode(hmac.new((secret + "&").encode(), base.encode(), digest).digest()).decode()


def _check_permission(rec: dict) -> None:
    method, perm = request.method, rec["permissions"]
    if method in ("GET", "HEAD"):
        if perm not in ("read", "read_write"):
            raise _auth_error("The API key provided does not have read permissions.")
    elif method in ("POST", "PUT", "PATCH", "DELETE"):
        if perm not in ("write", "read_write"):
            raise _auth_error("The API key provided does not have write permissions.")
    elif method != "OPTIONS":
        raise _auth_error("Unknown request method.")
