"""Mappers: pure functions from one system's record to the other's payload, driven by data tables."""
