"""A server someone else runs, reached by its directory URL (--directory)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from conformance.targets.base import TargetError, TargetInfo


def _check_url(directory_url: str) -> None:
    parts = urlsplit(directory_url)
    if parts.scheme not in ("http", "https"):
        raise TargetError(
            f"The directory URL {directory_url!r} must start with http:// or https:// "
            "(e.g. https://acme.example.test/directory)."
        )
    if not parts.hostname:
        raise TargetError(f"The directory URL {directory_url!r} has no host name.")


def _check_bundle(ca_bundle: str) -> None:
    path = Path(ca_bundle)
    if not path.is_file():
        raise TargetError(f"The CA bundle {ca_bundle} does not exist or is not a file.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TargetError(f"The CA bundle {ca_bundle} cannot be read: {exc.strerror or exc}.") from exc
    # Parse here rather than let httpx fail later with an opaque SSL error on the first request.
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TargetError(
            f"The CA bundle {ca_bundle} is not a PEM file of certificates "
            "(expected one or more '-----BEGIN CERTIFICATE-----' blocks)."
        ) from exc
    if not certificates:
        raise TargetError(f"The CA bundle {ca_bundle} contains no certificates.")


def external_target(directory_url: str, ca_bundle: str | None, insecure: bool) -> TargetInfo:
    """Validate the user's options and describe the external server; nothing is contacted yet."""
    _check_url(directory_url)
    if ca_bundle is not None and insecure:
        raise TargetError("Pass either a CA bundle or --insecure, not both.")
    verify: str | bool
    if ca_bundle is not None:
        _check_bundle(ca_bundle)
        verify = str(Path(ca_bundle).resolve())
    elif insecure:
        verify = False
    else:
        verify = True  # the system trust store
    notes: dict[str, str] = {}
    if urlsplit(directory_url).scheme == "http":
        # RFC 8555 section 6.1 requires HTTPS; allowed here because some test servers are plain HTTP.
        notes["transport"] = "plain HTTP (RFC 8555 section 6.1 requires HTTPS)"
    return TargetInfo(name="external", directory_url=directory_url, verify=verify, notes=notes)
