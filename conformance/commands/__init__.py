"""Subcommands of the acme-conformance CLI, one module each."""
