"""What the fuzzer judges: invariants tied to catalogue requirements (shared/requirements.md).

Each invariant is reported like a scripted check (id ``fuzz.<name>``, section, level, the RFC
sentence) so every report format shows fuzz findings next to scripted ones, under the same
requirement ids. A violation may carry its own requirement ids and level when one invariant
covers several requirements (the mutation families do: a padding mutant breaks GEN-5, a
missing nonce NONCE-12).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.model import CheckSpec, CouldNotTest, Level


@dataclass(frozen=True)
class Invariant:
    id: str
    title: str
    section: str
    level: Level
    requirements: tuple[str, ...]
    sentence: str

    def spec(self, requirements: tuple[str, ...] | None = None, level: Level | None = None) -> CheckSpec:
        return CheckSpec(
            id=self.id,
            title=self.title,
            section=self.section,
            level=level or self.level,
            requirements=requirements or self.requirements,
            sentence=self.sentence,
            tags=frozenset({"account"}),
            func=_judged_by_the_fuzzer,
            module=__name__,
        )


def _judged_by_the_fuzzer(ctx: Any) -> None:
    # Fuzz invariants are not registered checks: 'acme-conformance run' never calls this.
    raise CouldNotTest("this invariant is judged by 'acme-conformance fuzz', not by 'run'")


@dataclass
class Violation(Exception):
    """An invariant broken by the server; raised out of a state-machine step so hypothesis shrinks it."""

    invariant: str
    message: str
    expected: str | None = None
    actual: str | None = None
    requirements: tuple[str, ...] = ()
    level: Level | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.invariant}: {self.message}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "invariant": self.invariant,
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "requirements": list(self.requirements or INVARIANTS[self.invariant].requirements),
            "level": (self.level or INVARIANTS[self.invariant].level).value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Violation:
        return cls(
            invariant=data["invariant"], message=data["message"], expected=data.get("expected"),
            actual=data.get("actual"), requirements=tuple(data.get("requirements", ())),
            level=Level(data["level"]) if data.get("level") else None,
        )


def _inv(id: str, title: str, section: str, level: str, requirements: list[str], sentence: str) -> Invariant:  # noqa: A002
    return Invariant(id, title, section, Level(level), tuple(requirements), " ".join(sentence.split()))


SERVER_ANSWERS = "fuzz.server-answers"


_ALL = [
    _inv("fuzz.no-server-error", "No request the fuzzer sends makes the server fail (5xx)", "RFC 8555 §6.7",
         "SHOULD", ["ERR-1"],
         "When the server responds with an error status, it SHOULD provide additional information using a "
         "problem document. (A 5xx answer to a client's request is graded as a warning: the RFC has no "
         "sentence that forbids it, but a conformant server rejects bad input with a 4xx.)"),
    _inv("fuzz.server-answers", "The server answers every request (it does not hang)", "RFC 8555 §6",
         "SHOULD", [],
         "No RFC 8555 sentence covers a server that stops answering, so this finding has no catalogue id and is "
         "graded as a warning; it is reported because every later request of the run depends on it. It is "
         "saved unshrunk: a server that no longer answers cannot be shrunk against."),
    _inv("fuzz.problem-document", "Error responses are problem documents (application/problem+json)",
         "RFC 8555 §6.7", "SHOULD", ["ERR-1"],
         "When the server responds with an error status, it SHOULD provide additional information using a "
         "problem document [RFC7807]."),
    _inv("fuzz.problem-fields", "Problem documents are well formed (type string, status, no identifier)",
         "RFC 8555 §6.7, §6.7.1; RFC 9457 §3.1", "MUST", ["ERR-2", "ERR-4", "ERR-5", "ERR-7"],
         "Generators MUST use the same status code in the actual HTTP response, to assure that generic HTTP "
         "software that does not understand this format still behaves correctly (RFC 9457 §3.1.2). The "
         "\"identifier\" field MUST NOT be present at the top level in ACME problem documents (RFC 8555 §6.7.1)."),
    _inv("fuzz.problem-type-registered", "ACME problem types are registered ones", "RFC 8555 §6.7, §9.7.4",
         "MUST NOT", ["ERR-3"],
         "The server MAY return errors whose \"type\" field is set to a URI other than those defined above. "
         "Servers MUST NOT use the ACME URN namespace for errors not listed in the appropriate IANA registry "
         "(see Section 9.6)."),
    _inv("fuzz.nonce-on-post-success", "Every successful POST response carries a Replay-Nonce", "RFC 8555 §6.5",
         "MUST", ["NONCE-8"],
         "The server MUST include a Replay-Nonce header field in every successful response to a POST request "
         "and SHOULD provide it in error responses as well."),
    _inv("fuzz.nonce-unique", "Replay-Nonce values are never handed out twice", "RFC 8555 §6.5.1", "MUST",
         ["NONCE-7"], "The value of the Replay-Nonce field MUST be an octet string encoded according to the "
         "base64url encoding ... It MUST be unique to each message, with high probability."),
    _inv("fuzz.status-transitions", "Objects only move along allowed status edges; terminal states are never left",
         "RFC 8555 §7.1.6", "descr.", ["SM-1"],
         "Each ACME object type goes through a simple state machine over its lifetime. The \"status\" field of "
         "the object indicates which state the object is currently in. (Every change seen must follow the "
         "diagrams of §7.1.6, where invalid, deactivated, expired and revoked authorizations and valid and "
         "invalid orders and challenges have no way out; states a server may skip may be skipped.)"),
    _inv("fuzz.status-values", "Status values are the ones RFC 8555 defines for the object type",
         "RFC 8555 §7.1.2, §7.1.3, §7.1.4, §8", "descr.", ["AZ-2", "CH-2", "ORD-2", "SM-6"],
         "status (required, string): The status of this order. Possible values are \"pending\", \"ready\", "
         "\"processing\", \"valid\", and \"invalid\" (§7.1.3; likewise §7.1.2, §7.1.4, §8 for accounts, "
         "authorizations, challenges). The order also moves to the \"invalid\" state if it expires or one of its "
         "authorizations enters a final state other than \"valid\" (\"expired\", \"revoked\", or "
         "\"deactivated\") (§7.1.6)."),
    _inv("fuzz.account-url-matches-signer", "A request to one account's URL signed by another account is refused",
         "RFC 8555 §6.2, §6.3, §7.3.2", "MUST", ["UPD-8", "DEACT-4", "PAG-3"],
         "All ACME requests with a non-empty body MUST encapsulate their payload in a JSON Web Signature (JWS) "
         "object, signed using the account's private key unless otherwise specified (§6.2). On receiving a "
         "request with a zero-length (and thus non-JSON) payload, the server MUST authenticate the sender and "
         "verify any access control rules. Otherwise, the server MUST treat this request as having the same "
         "semantics as a GET request for the same resource (§6.3)."),
    _inv("fuzz.key-change-conflict-409", "A key change to a key in use answers 409 Conflict with the account URL",
         "RFC 8555 §7.3.5", "SHOULD", ["KC-10", "LOC-5"],
         "If there is an existing account with the new key provided, then the server SHOULD use status code 409 "
         "(Conflict) and provide the URL of that account in the Location header field."),
    _inv("fuzz.access-control", "One account cannot read or change another account's objects",
         "RFC 8555 §6.3, §10.5", "MUST", ["PAG-3", "ORD-17", "AZ-9", "CH-6", "AZD-2"],
         "On receiving a request with a zero-length (and thus non-JSON) payload, the server MUST authenticate "
         "the sender and verify any access control rules."),
    _inv("fuzz.deactivated-account-refused", "A deactivated account's requests are refused",
         "RFC 8555 §7.3.6", "MUST", ["DEACT-2", "DEACT-3", "SM-8"],
         "A deactivated account can no longer request certificate issuance or access resources related to "
         "the account, such as orders or authorizations."),
    _inv("fuzz.deactivated-account-401", "A deactivated account gets 401 unauthorized", "RFC 8555 §7.3.6",
         "MUST", ["DEACT-2", "DEACT-3"],
         "If a server receives a POST or POST-as-GET from a deactivated account, it MUST return an error "
         "response with status code 401 (Unauthorized) and type \"urn:ietf:params:acme:error:unauthorized\"."),
    _inv("fuzz.account-key-unique", "newAccount with an existing key returns that account (200, same URL)",
         "RFC 8555 §7.3.1", "MUST", ["LOC-2", "ACCT-16", "SEC-4"],
         "If the server receives a newAccount request signed with a key for which it already has an account "
         "registered with the provided account key, then it MUST return a response with status code 200 (OK) "
         "and provide the URL of that account in the Location header field."),
    _inv("fuzz.finalize-not-ready", "Finalizing an order that is not ready gives 403 orderNotReady",
         "RFC 8555 §7.4", "MUST", ["FIN-1", "FIN-2"],
         "A request to finalize an order will result in error if the order is not in the \"ready\" state. In "
         "such cases, the server MUST return a 403 (Forbidden) error with a problem document of type "
         "\"orderNotReady\"."),
    _inv("fuzz.certificate-needs-authorization", "No certificate is issued unless every authorization was valid",
         "RFC 8555 §7.1.6, §7.4", "MUST", ["SM-4", "AZD-3", "FIN-1"],
         "A request to finalize an order will result in error if the order is not in the \"ready\" state. "
         "(The order is ready only once all of its authorizations are valid, §7.1.6.)"),
    _inv("fuzz.certificate-identifiers", "The certificate holds exactly the order's identifiers",
         "RFC 8555 §7.4", "MUST NOT", ["ORD-14", "FIN-3", "FIN-4"],
         "The server MUST return an error if it cannot fulfill the request as specified, and it MUST NOT issue "
         "a certificate with contents other than those requested."),
    _inv("fuzz.csr-not-account-key", "A CSR with the account key is refused", "RFC 8555 §11.1", "MUST",
         ["FIN-5", "SEC-3"],
         "For example, the public key of an account key pair MUST NOT be included in a certificate."),
    _inv("fuzz.wrong-answer-not-valid", "A challenge answered wrongly never becomes valid", "RFC 8555 §8.3, §8.4",
         "descr.", ["CH-11", "H01-5"],
         "If all of the above verifications succeed, then the validation is successful. If the request fails, "
         "or the body does not pass these checks, then it has failed."),
    _inv("fuzz.revocation-authorization", "Revocation by an unauthorized key is refused", "RFC 8555 §7.6",
         "MUST", ["REV-6", "REV-10"],
         "Before revoking a certificate, the server MUST verify that the key used to sign the request is "
         "authorized to revoke the certificate."),
    _inv("fuzz.revocation-by-authorized-account", "An account holding authorizations for all names may revoke",
         "RFC 8555 §7.6", "MUST", ["REV-5"],
         "The server MUST consider at least the following accounts authorized for a given certificate: the "
         "account that issued the certificate; an account that holds authorizations for all of the "
         "identifiers in the certificate."),
    _inv("fuzz.revocation-reason", "A reason that is not an RFC 5280 reasonCode is refused", "RFC 8555 §7.6",
         "MUST", ["REV-3"],
         "reason (optional, int): One of the revocation reasonCodes defined in Section 5.3.1 of [RFC5280] ... "
         "If a request contains a disallowed reasonCode, then the server MUST reject it with the error type "
         "\"urn:ietf:params:acme:error:badRevocationReason\"."),
    _inv("fuzz.revoke-twice", "Revoking a revoked certificate again is refused with alreadyRevoked",
         "RFC 8555 §7.6", "descr.", ["REV-7"],
         "For example, if the certificate has already been revoked, the server returns an error response with "
         "status code 400 (Bad Request) and type \"urn:ietf:params:acme:error:alreadyRevoked\"."),
    _inv("fuzz.key-change-old-key", "After a key change the old key no longer authenticates", "RFC 8555 §7.3.5",
         "MUST", ["KC-1"],
         "If all of these checks pass, then the server updates the corresponding account by replacing the old "
         "account key with the new public key and returns status code 200 (OK)."),
    _inv("fuzz.key-change-conflict", "A key change to another account's key is refused", "RFC 8555 §7.3.5",
         "MUST", ["KC-10", "SEC-4"],
         "Check that no account exists whose account key is the same as the key in the \"jwk\" header "
         "parameter of the inner JWS."),
]

# The mutation families (see conformance/fuzz/mutations.py): each concrete mutant names its own
# requirement ids and level; these are the families' defaults for reporting.
_MUTANT_SENTENCE = (
    "The server MUST verify the JWS before processing the request. (Each mutant changes one thing of a valid "
    "request so that it breaks a rule of §6.1, §6.2, §6.4 or §6.5; it must be rejected with a problem document "
    "and must leave the server's state unchanged.)"
)
MUTATION_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "protected-member": ("a protected header member", ("JWS-6", "JWS-18", "JWS-22", "JWS-24", "JWS-25")),
    "alg": ("the alg header", ("JWS-8", "JWS-9", "JWS-10", "JWS-18", "JWS-26")),
    "key": ("kid/jwk", ("JWS-14", "JWS-15", "JWS-16", "JWS-17", "JWS-18", "JWS-19")),
    "nonce": ("the nonce", ("NONCE-10", "NONCE-11", "NONCE-12", "NONCE-14", "NONCE-15", "NONCE-16")),
    "url": ("the url header", ("JWS-20", "JWS-22")),
    "signature": ("the signature bytes", ("JWS-19",)),
    "padding": ("base64url padding", ("GEN-5",)),
    "payload": ("the payload", ("JWS-23", "ORD-12", "CH-5", "FIN-7", "REV-8")),
    "structure": ("the JSON structure", ("JWS-2", "JWS-3", "JWS-5", "JWS-7", "JWS-28")),
    "content-type": ("the Content-Type", ("JWS-1",)),
    "method": ("the HTTP method", ("PAG-1", "ERR-10")),
}
for _family, (_what, _reqs) in MUTATION_FAMILIES.items():
    _ALL.append(_inv(f"fuzz.mutant.{_family}", f"A request with {_what} broken is rejected and changes nothing",
                     "RFC 8555 §6.2", "MUST", list(_reqs), _MUTANT_SENTENCE))

INVARIANTS: dict[str, Invariant] = {inv.id: inv for inv in _ALL}
