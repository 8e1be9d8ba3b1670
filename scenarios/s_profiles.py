"""Certificate profiles (draft-ietf-acme-profiles): only for servers that advertise meta.profiles."""

from __future__ import annotations

from typing import Any

from conformance.acme import Order, SetupFailed, describe_response, json_or_none
from conformance.context import CheckContext
from conformance.judge import expect_problem, fail
from conformance.model import Skipped
from conformance.recorder import noting
from conformance.registry import check, not_judged

SECTION3 = "draft-ietf-acme-profiles §3"
SECTION4 = "draft-ietf-acme-profiles §4"


def advertised(ctx: CheckContext) -> dict[str, Any]:
    meta = ctx.directory.get("meta")
    profiles = meta.get("profiles") if isinstance(meta, dict) else None
    if profiles is None:
        raise Skipped("the directory advertises no meta.profiles")
    return profiles if isinstance(profiles, dict) else {}


def _order(ctx: CheckContext, extra: dict[str, Any]) -> tuple[Order, dict[str, Any]]:
    account = ctx.new_account()
    with noting(f"newOrder with {extra or 'no profile'}"):
        response = ctx.session.new_order_request(account, ctx.new_identifiers(), extra=extra)
    body = json_or_none(response)
    location = response.headers.get("Location")
    if response.status_code != 201 or not isinstance(body, dict) or not location:
        raise SetupFailed(f"newOrder failed ({describe_response(response)})")
    order = Order(url=location, body=dict(body), account=account)
    return order, body


@check(
    "profiles.directory-map",
    title="meta.profiles, when present, maps profile names to description strings",
    section=SECTION3,
    level="MUST",
    requirements=["PROF-1"],
    sentence="An ACME Server which wishes to allow Clients to select profiles MUST include a new field, profiles, "
    "in the meta field of its Directory object. profiles (optional, object): A map of profile names to "
    "human-readable descriptions of those profiles.",
    tags=["basic"],
)
def profiles_directory(ctx: CheckContext) -> None:
    meta = ctx.directory.get("meta")
    profiles = meta.get("profiles") if isinstance(meta, dict) else None
    if profiles is None:
        raise Skipped("the directory advertises no meta.profiles")
    if not isinstance(profiles, dict) or not profiles or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in profiles.items()):
        raise fail("meta.profiles is not a map of names to descriptions", expected='{"name": "description", ...}',
                   actual=repr(profiles)[:200])


@check(
    "profiles.unknown-profile-refused",
    title="newOrder naming a profile the server does not advertise is refused with invalidProfile",
    section=SECTION4,
    level="MUST",
    requirements=["PROF-2"],
    sentence="If the server receives a newOrder request specifying a profile that it is not advertising ... it "
    'MUST reject the request with a problem document of type "invalidProfile".',
    tags=["account"],
)
def profiles_unknown(ctx: CheckContext) -> None:
    profiles = advertised(ctx)
    name = "acme-conformance-no-such-profile"
    if name in profiles:
        raise SetupFailed("the server advertises the tester's made-up profile name")
    account = ctx.new_account()
    with noting("newOrder with an unknown profile"):
        response = ctx.session.new_order_request(account, ctx.new_identifiers(), extra={"profile": name})
    expect_problem(response, ["invalidProfile"], "newOrder with a profile the server does not advertise")


not_judged("PROF-3", "which profiles are incompatible with which identifiers is server policy; the tester "
           "cannot name an incompatible combination for an arbitrary server")


@check(
    "profiles.selected-profile-shown",
    title="An order for an advertised profile shows that profile, at creation and when fetched later",
    section=SECTION4,
    level="descr.",
    requirements=["PROF-4"],
    sentence="If it accepts the request, the server responds with an Order object including the selected profile.",
    tags=["account"],
)
def profiles_selected(ctx: CheckContext) -> None:
    profiles = advertised(ctx)
    if not profiles:
        raise SetupFailed("meta.profiles names no profile")
    name = sorted(profiles)[0]
    order, body = _order(ctx, {"profile": name})
    if body.get("profile") != name:
        raise fail("the new order does not show the selected profile", expected=name, actual=repr(body.get("profile")))
    later = ctx.session.refresh(order).body
    if later.get("profile") != name:
        raise fail("a later fetch of the order does not show the profile", expected=name,
                   actual=repr(later.get("profile")))


@check(
    "profiles.default-selected",
    title="An order without a profile gets one chosen by the server",
    section=SECTION4,
    level="RECOMMENDED",
    requirements=["PROF-5"],
    sentence="If the server is advertizing profiles and receives a newOrder request which does not identify a "
    "specific profile, it is RECOMMENDED that the server select a profile and associate it with the new Order "
    "object.",
    tags=["account"],
)
def profiles_default(ctx: CheckContext) -> None:
    profiles = advertised(ctx)
    _, body = _order(ctx, {})
    chosen = body.get("profile")
    if not isinstance(chosen, str):
        raise fail("the server chose no profile for an order that named none", expected="a profile field",
                   actual="absent")
    if profiles and chosen not in profiles:
        ctx.note(f"the chosen profile {chosen!r} is not among the advertised ones")


not_judged("PROF-6", "needs a profile the CA stops offering between newOrder and finalize: only a lab that "
           "reconfigures the server mid-run can produce it")
