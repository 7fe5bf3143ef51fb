"""The pooled session reads the proxy variables once per host; what they mean must not change."""
from __future__ import annotations

import pytest
import requests

from connector.http import pooled_session

URLS = ("http://shop.example/wp-json/wc/v3/orders/1", "https://shop.example/wp-json/", "http://127.0.0.1:8070/api",
        "https://erp.internal.example/api/v1/products")


@pytest.mark.parametrize("env", [
    {},
    {"HTTP_PROXY": "http://proxy.example:3128", "HTTPS_PROXY": "http://proxy.example:3129"},
    {"HTTPS_PROXY": "http://proxy.example:3129", "NO_PROXY": "127.0.0.1,.internal.example"},
    {"ALL_PROXY": "socks5://proxy.example:1080", "REQUESTS_CA_BUNDLE": "/etc/ssl/company.pem"},
])
def test_proxies_and_ca_bundle_from_the_environment_apply_as_requests_applies_them(monkeypatch, env):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                 "http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ours, plain = pooled_session(), requests.Session()
    for url in URLS:
        for _ in range(2):  # the second answer comes from the per-host memo
            for verify in (True, False, None):
                assert ours.merge_environment_settings(url, {}, None, verify, None) == \
                    plain.merge_environment_settings(url, {}, None, verify, None), (url, verify)
        given = {"https": "http://explicit.example:8080"}
        assert ours.merge_environment_settings(url, dict(given), None, True, None) == \
            plain.merge_environment_settings(url, dict(given), None, True, None)
