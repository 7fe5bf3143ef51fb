"""The baseline for the shim benchmark: a Flask app that answers every POST with 200 and does nothing."""
from flask import Flask, jsonify, request

app = Flask("bare")


@app.post("/webhooks/woocommerce")
def ack():
    request.get_data()
    return jsonify(status=200, reason="accepted")
