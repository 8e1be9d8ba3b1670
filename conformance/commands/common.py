"""Options shared by every command that talks to a target (run, fuzz, ...), and their validation."""

from __future__ import annotations

import argparse
import binascii
import datetime
import ipaddress
import os
import shlex
from pathlib import Path

from conformance.harness import BACKENDS, EMBEDDED_TARGETS, TargetOptions
from conformance.jws import b64url_decode
from conformance.profile import Profile, ProfileError, load_profile
from conformance.registry import Selection

DEFAULT_REPORTS = Path("reports")


class OptionError(ValueError):
    """An option value that cannot work; the message says which and why."""


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target (default: an embedded Pebble started for this run)")
    group.add_argument("--target", choices=EMBEDDED_TARGETS, default=None,
                       help="embedded server to start when no --directory is given (default: pebble)")
    group.add_argument("--directory", metavar="URL", help="directory URL of an external ACME server to test")
    group.add_argument("--profile", metavar="FILE", type=Path,
                       help="TOML target profile describing an external server (docs/profiles.md)")
    group.add_argument("--ca-bundle", metavar="FILE", help="PEM file of CA certificates that sign the server's TLS certificate")
    group.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    group.add_argument("--pebble-env", metavar="KEY=VALUE", action="append", default=[],
                       help="environment for the embedded Pebble, e.g. PEBBLE_VA_NOSLEEP=0 (repeatable)")
    group.add_argument("--pebble-strict", action="store_true", help="start the embedded Pebble with -strict")
    group.add_argument("--eab-kid", metavar="KID", help="external account binding key id (RFC 8555 §7.3.4)")
    group.add_argument("--eab-hmac-key", metavar="KEY",
                       help="external account binding HMAC key, base64url (write --eab-hmac-key=KEY; or set $ACME_EAB_HMAC_KEY)")

    responders = parser.add_argument_group("challenge responders")
    responders.add_argument("--backend", choices=BACKENDS, default=None,
                            help="how challenges are answered (default: builtin responders in this process)")
    responders.add_argument("--hook", metavar="COMMAND",
                            help="with --backend hook: command called as COMMAND add|remove TYPE IDENTIFIER TOKEN VALUE")
    responders.add_argument("--challtestsrv-url", metavar="URL",
                            help="with --backend challtestsrv: management URL of a running pebble-challtestsrv")
    responders.add_argument("--responder-host", default=None, help="address responders bind (default 127.0.0.1)")
    responders.add_argument("--http-port", type=int, help="http-01 responder port (external default 80, embedded: free port)")
    responders.add_argument("--dns-port", type=int, help="DNS responder port (external default 53, embedded: free port)")
    responders.add_argument("--tls-port", type=int, help="tls-alpn-01 responder port (external default 443, embedded: free port)")
    responders.add_argument("--answer-address", default=None,
                            help="IPv4 address the DNS responder answers for every name (default 127.0.0.1)")


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("selection")
    group.add_argument("--select", "-k", metavar="GLOB", action="append", default=[],
                       help="run checks whose id matches (repeatable), e.g. 'nonce.*'")
    group.add_argument("--exclude", metavar="GLOB", action="append", default=[], help="skip checks whose id matches")
    group.add_argument("--section", metavar="SECTION", action="append", default=[],
                       help="run checks of an RFC section, e.g. 7.2 or 'RFC 8737'")
    group.add_argument("--tag", metavar="TAG", action="append", default=[], help="run checks with this tag")
    group.add_argument("--exclude-tag", metavar="TAG", action="append", default=[], help="skip checks with this tag")
    group.add_argument("--level", metavar="LEVEL", action="append", default=[],
                       help="run checks of this level (MUST, SHOULD, MAY, ...)")


def selection_from_args(args: argparse.Namespace) -> Selection:
    selection = Selection(
        include=list(args.select), exclude=list(args.exclude), sections=list(args.section),
        tags=list(args.tag), exclude_tags=list(args.exclude_tag), levels=[lvl.upper() if lvl != "descr." else lvl for lvl in args.level],
    )
    try:
        selection.validate()
    except ValueError as exc:
        raise OptionError(str(exc)) from exc
    return selection


def _port(value: int | None, option: str) -> int | None:
    if value is not None and not 0 < value < 65536:
        raise OptionError(f"{option} must be a port number between 1 and 65535, not {value}")
    return value


# Options a profile already sets: giving them too would leave it unclear which one wins.
_PROFILE_CONFLICTS = (
    ("target", "--target"), ("directory", "--directory"), ("ca_bundle", "--ca-bundle"), ("insecure", "--insecure"),
    ("eab_kid", "--eab-kid"), ("eab_hmac_key", "--eab-hmac-key"), ("backend", "--backend"), ("hook", "--hook"),
    ("challtestsrv_url", "--challtestsrv-url"), ("responder_host", "--responder-host"),
    ("http_port", "--http-port"), ("dns_port", "--dns-port"), ("tls_port", "--tls-port"),
    ("answer_address", "--answer-address"), ("pebble_env", "--pebble-env"), ("pebble_strict", "--pebble-strict"),
)


def profile_from_args(args: argparse.Namespace) -> Profile | None:
    """The --profile, loaded and validated (OptionError on any problem), or None."""
    path = getattr(args, "profile", None)
    if path is None:
        return None
    given = [flag for attr, flag in _PROFILE_CONFLICTS if getattr(args, attr, None) not in (None, False, [])]
    if given:
        raise OptionError(f"--profile describes the target and its responders; do not combine it with {', '.join(given)}")
    try:
        return load_profile(path)
    except ProfileError as exc:
        raise OptionError(f"invalid profile: {exc}") from exc


def target_options_from_profile(profile: Profile, workdir: Path) -> TargetOptions:
    return TargetOptions(
        directory=profile.directory,
        ca_bundle=profile.ca_bundle,
        insecure=profile.insecure,
        backend=profile.backend,
        hook_command=list(profile.hook_command),
        challtestsrv_url=profile.challtestsrv_url,
        responder_host=profile.responder_host,
        http_port=profile.http_port,
        dns_port=profile.dns_port,
        tls_port=profile.tls_port,
        a_address=profile.answer_address,
        workdir=workdir,
        eab=profile.eab,
        run_overrides=profile.run_overrides(),
        notes=profile.record(),
    )


def target_options_from_args(args: argparse.Namespace, workdir: Path) -> TargetOptions:
    profile = profile_from_args(args)
    if profile is not None:
        return target_options_from_profile(profile, workdir)
    if args.directory is not None and args.target is not None:
        raise OptionError("--target starts an embedded server; it does not combine with --directory")
    if args.target is None:
        args.target = "pebble"
    if (args.pebble_env or args.pebble_strict) and args.target != "pebble":
        raise OptionError("--pebble-env and --pebble-strict only apply to --target pebble")
    if args.backend is None:
        args.backend = "builtin"
    if args.responder_host is None:
        args.responder_host = "127.0.0.1"
    if args.answer_address is None:
        args.answer_address = "127.0.0.1"
    if args.insecure and args.ca_bundle:
        raise OptionError("pass either --ca-bundle or --insecure, not both")
    if args.directory is None and (args.ca_bundle or args.insecure):
        raise OptionError("--ca-bundle and --insecure only apply to an external server given with --directory")
    if args.backend == "hook" and not args.hook:
        raise OptionError("--backend hook needs --hook COMMAND")
    if args.hook and args.backend != "hook":
        raise OptionError("--hook only applies with --backend hook")
    if args.challtestsrv_url and args.backend != "challtestsrv":
        raise OptionError("--challtestsrv-url only applies with --backend challtestsrv")
    try:
        ipaddress.IPv4Address(args.answer_address)
    except ValueError:
        raise OptionError(f"--answer-address must be an IPv4 address, not {args.answer_address!r}") from None
    try:
        responder_host = str(ipaddress.ip_address(args.responder_host))
    except ValueError:
        raise OptionError(f"--responder-host must be an IP address, not {args.responder_host!r}") from None
    eab = _eab(args.eab_kid, args.eab_hmac_key)
    env: dict[str, str] = {}
    for item in args.pebble_env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise OptionError(f"--pebble-env wants KEY=VALUE, not {item!r}")
        env[key] = value
    if env and args.directory is not None:
        raise OptionError("--pebble-env only applies to the embedded Pebble, not to --directory")
    return TargetOptions(
        target=args.target,
        directory=args.directory,
        ca_bundle=args.ca_bundle,
        insecure=args.insecure,
        backend=args.backend,
        hook_command=shlex.split(args.hook) if args.hook else [],
        challtestsrv_url=args.challtestsrv_url,
        responder_host=responder_host,
        http_port=_port(args.http_port, "--http-port"),
        dns_port=_port(args.dns_port, "--dns-port"),
        tls_port=_port(args.tls_port, "--tls-port"),
        a_address=args.answer_address,
        pebble_env=env,
        pebble_strict=args.pebble_strict,
        workdir=workdir,
        eab=eab,
    )


EAB_KEY_VARIABLE = "ACME_EAB_HMAC_KEY"


def _eab(kid: str | None, hmac_key: str | None) -> tuple[str, bytes] | None:
    if kid is not None and hmac_key is None:
        # From the environment: a secret on the command line is visible to every user in the process list.
        hmac_key = os.environ.get(EAB_KEY_VARIABLE)
    if (kid is None) != (hmac_key is None):
        raise OptionError(f"--eab-kid and --eab-hmac-key (or ${EAB_KEY_VARIABLE}) go together")
    if kid is None or hmac_key is None:
        return None
    try:
        key = b64url_decode(hmac_key.strip())
    except (ValueError, binascii.Error):
        raise OptionError("--eab-hmac-key must be base64url (as the CA handed it out)") from None
    if not key:
        raise OptionError("--eab-hmac-key is empty")
    return kid, key


def new_run_dir(base: Path, target_name: str) -> Path:
    """reports/<UTC timestamp>-<target>/, unique even for two runs in the same second."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = base / f"{stamp}-{target_name}"
    suffix = 1
    while candidate.exists():
        suffix += 1
        candidate = base / f"{stamp}-{target_name}-{suffix}"
    candidate.mkdir(parents=True)
    return candidate
