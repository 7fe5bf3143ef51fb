"""Sync use-cases: products, inventory, orders and the write-back, each a recipe of small steps."""
