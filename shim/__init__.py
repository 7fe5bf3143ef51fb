"""The webhook shim: a small Flask app that verifies, stores and hands WooCommerce deliveries to workers."""
