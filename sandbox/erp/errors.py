"""The API's error shape: `{"error": {"code", "message", "fields"?}}` with the HTTP status.

Views raise `ApiError`; the app turns it (and any werkzeug HTTP error) into that JSON body.
"""
from __future__ import annotations

from flask import jsonify

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
         422: "validation_failed", 429: "rate_limited", 500: "internal_error", 502: "bad_gateway",
         503: "unavailable", 504: "gateway_timeout"}


def code_for(status: int) -> str:
    return CODES.get(status, "server_error" if status >= 500 else "error")


class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: dict | None = None,
                 headers: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields
        self.headers, self.code = headers or {}, code or code_for(status)

    def response(self):
        return error_response(self.status, self.message, self.fields, self.headers, self.code)


def error_response(status: int, message: str, fields: dict | None = None,
                   headers: dict | None = None, code: str | None = None):
    error = {"code": code or code_for(status), "message": message}
    if fields:
        error["fields"] = fields
    response = jsonify(error=error)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def validation_failed(fields: dict) -> ApiError:
    return ApiError(422, "validation failed: " + "; ".join(f"{k}: {v}" for k, v in fields.items()),
                    fields=fields)
