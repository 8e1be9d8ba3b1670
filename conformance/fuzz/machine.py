"""The hypothesis state machine: each rule draws the arguments of one protocol step.

Rules only *draw*; the :class:`~conformance.fuzz.world.World` executes. Object references are
plain integers taken modulo the number of known objects, so they shrink towards "the first
account / the first order" and stay meaningful when earlier steps are removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from conformance.fuzz import mutations as mut
from conformance.fuzz.world import (
    CSR_KINDS,
    FETCH_KINDS,
    FOREIGN_KINDS,
    IDENTIFIER_KINDS,
    REASONS,
    SIGNERS,
    TEMPLATES,
    World,
)

if TYPE_CHECKING:
    from conformance.fuzz.explore import Explorer

INDEX = st.integers(min_value=0, max_value=7)
ALGS = st.sampled_from(["ES256", "ES384", "EdDSA", "RS256"])
CHALLENGE_TYPES = st.sampled_from(["http-01", "dns-01", "tls-alpn-01"])
IDENTIFIERS = st.lists(st.tuples(st.sampled_from(IDENTIFIER_KINDS), INDEX).map(list), min_size=1, max_size=3)


class AcmeMachine(RuleBasedStateMachine):
    """Bound to an explorer by :func:`machine_for`; one instance (and one World) per example."""

    explorer: Explorer

    def __init__(self) -> None:
        super().__init__()
        self.world: World = self.explorer.new_world()

    def _do(self, action: str, **args: Any) -> None:
        self.explorer.execute(self.world, {"action": action, **args})

    # -- rules -------------------------------------------------------------------------------------

    # Two accounts from the start: most cross-account probes need them, and a short sequence is cheap.
    @initialize(alg=ALGS)
    def first_account(self, alg: str) -> None:
        self._do("new-account", alg=alg)

    @initialize(alg=ALGS)
    def second_account(self, alg: str) -> None:
        self._do("new-account", alg=alg)

    @rule(alg=ALGS)
    def new_account(self, alg: str) -> None:
        self._do("new-account", alg=alg)

    @precondition(lambda self: self.world.accounts)
    @rule(account=INDEX)
    def re_register(self, account: int) -> None:
        self._do("re-register", account=account)

    @precondition(lambda self: self.world.accounts)
    @rule(account=INDEX, identifiers=IDENTIFIERS)
    def new_order(self, account: int, identifiers: list[list[Any]]) -> None:
        self._do("new-order", account=account, identifiers=identifiers)

    @precondition(lambda self: self.world.accounts)
    @rule(kind=st.sampled_from(FETCH_KINDS), index=INDEX, account=INDEX)
    def fetch(self, kind: str, index: int, account: int) -> None:
        self._do("fetch", kind=kind, index=index, account=account)

    # Hypothesis picks among applicable rules uniformly, so the probes this fuzzer exists for (one account
    # touching another's objects, mutated requests) come as two rules each, to be drawn twice as often.
    @precondition(lambda self: len(self.world.accounts) > 1)
    @rule(kind=st.sampled_from(FOREIGN_KINDS[:5]), index=INDEX, account=INDEX)
    def foreign_read(self, kind: str, index: int, account: int) -> None:
        """One account reads another account's object."""
        self._do("foreign", kind=kind, index=index, account=account)

    @precondition(lambda self: len(self.world.accounts) > 1)
    @rule(kind=st.sampled_from(FOREIGN_KINDS[5:]), index=INDEX, account=INDEX)
    def foreign_write(self, kind: str, index: int, account: int) -> None:
        """One account acts on another account's object."""
        self._do("foreign", kind=kind, index=index, account=account)

    @precondition(lambda self: self.world.challenges)
    @rule(challenge=INDEX, account=INDEX, correct=st.booleans())
    def answer(self, challenge: int, account: int, correct: bool) -> None:
        self._do("answer", challenge=challenge, account=account, correct=correct)

    @precondition(lambda self: self.world.orders)
    @rule(order=INDEX, challenge_type=CHALLENGE_TYPES)
    def validate_order(self, order: int, challenge_type: str) -> None:
        self._do("validate-order", order=order, challenge_type=challenge_type)

    @precondition(lambda self: self.world.accounts)
    @rule(account=INDEX, identifiers=IDENTIFIERS, challenge_type=CHALLENGE_TYPES)
    def issue(self, account: int, identifiers: list[list[Any]], challenge_type: str) -> None:
        self._do("issue", account=account, identifiers=identifiers, challenge_type=challenge_type)

    @precondition(lambda self: self.world.orders)
    @rule(order=INDEX, account=INDEX, csr=st.one_of(st.just("exact"), st.sampled_from(CSR_KINDS)))
    def finalize(self, order: int, account: int, csr: str) -> None:
        self._do("finalize", order=order, account=account, csr=csr)

    @precondition(lambda self: self.world.certs)
    @rule(cert=INDEX, signer=st.sampled_from(SIGNERS), account=INDEX, reason=st.sampled_from(REASONS))
    def revoke(self, cert: int, signer: str, account: int, reason: int | None) -> None:
        self._do("revoke", cert=cert, signer=signer, account=account, reason=reason)

    @precondition(lambda self: self.world.authzs)
    @rule(authz=INDEX, account=INDEX)
    def deactivate_authz(self, authz: int, account: int) -> None:
        self._do("deactivate-authz", authz=authz, account=account)

    @precondition(lambda self: self.world.accounts)
    @rule(victim=INDEX, account=INDEX)
    def deactivate_account(self, victim: int, account: int) -> None:
        self._do("deactivate-account", target=victim, account=account)

    @precondition(lambda self: self.world.accounts)
    @rule(account=INDEX, variant=st.sampled_from(["fresh", "taken"]), other=INDEX)
    def key_change(self, account: int, variant: str, other: int) -> None:
        self._do("key-change", account=account, variant=variant, other=other)

    @rule(template=st.sampled_from(TEMPLATES), index=INDEX, mutation=mut.mutations())
    def mutant(self, template: str, index: int, mutation: mut.Mutation) -> None:
        self._do("mutant", template=template, index=index, mutation=mutation.to_dict())

    @precondition(lambda self: self.world.orders)
    @rule(template=st.sampled_from(TEMPLATES), index=INDEX, mutation=mut.mutations())
    def mutant_later(self, template: str, index: int, mutation: mut.Mutation) -> None:
        """The same as mutant, once there are orders to mutate requests about."""
        self._do("mutant", template=template, index=index, mutation=mutation.to_dict())

    def teardown(self) -> None:
        self.explorer.end_world(self.world)


def machine_for(explorer: Explorer) -> type[AcmeMachine]:
    return type("AcmeFuzz", (AcmeMachine,), {"explorer": explorer})
