"""Scripted checks, one module per RFC area; every module registers its checks on import.

Module names follow the RFC 8555 section they cover (``s07_2_nonce`` is §7.2), so the
files sort in the order of the specification.
"""
