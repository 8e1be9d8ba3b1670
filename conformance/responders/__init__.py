"""Challenge responders the ACME server under test reaches during validation."""

from .base import (
    ALL_CHALLENGE_TYPES,
    ChallengeBackend,
    Identifier,
    b64url,
    dns01_txt_value,
    key_authorization,
)
from .builtin import BuiltinResponders
from .challtestsrv import ChallTestSrvBackend, ChallTestSrvError, ChallTestSrvProcess
from .dns01 import DnsQuery, DnsResponder
from .hook import HookBackend, HookError
from .http01 import Http01Request, Http01Responder
from .tlsalpn01 import (
    ACME_IDENTIFIER_OID,
    ACME_TLS_ALPN,
    TlsAlpnHandshake,
    TlsAlpnResponder,
    make_tlsalpn01_certificate,
    tlsalpn01_server_name,
)

__all__ = [
    "ACME_IDENTIFIER_OID",
    "ACME_TLS_ALPN",
    "ALL_CHALLENGE_TYPES",
    "BuiltinResponders",
    "ChallTestSrvBackend",
    "ChallTestSrvError",
    "ChallTestSrvProcess",
    "ChallengeBackend",
    "DnsQuery",
    "DnsResponder",
    "HookBackend",
    "HookError",
    "Http01Request",
    "Http01Responder",
    "Identifier",
    "TlsAlpnHandshake",
    "TlsAlpnResponder",
    "b64url",
    "dns01_txt_value",
    "key_authorization",
    "make_tlsalpn01_certificate",
    "tlsalpn01_server_name",
]
