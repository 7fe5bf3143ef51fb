"""WooCommerce REST API v3 adapter."""
