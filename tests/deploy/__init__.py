"""Checks of deploy/ by the tools an operator would use (docker compose, hadolint, kubectl, systemd-analyze):
they run external programs, so they live apart from the I/O-free unit tests."""
