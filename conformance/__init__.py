"""acme-conformance: a conformance tester for ACME (RFC 8555) servers."""

__version__ = "0.1.0"
