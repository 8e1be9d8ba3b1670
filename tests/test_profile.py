"""Target profiles: validation errors, what a profile sets, and `run --profile` against a real Pebble."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.cli import EXIT_USAGE, main
from conformance.context import RunContext, RunOptions
from conformance.harness import Harness, TargetOptions, open_harness
from conformance.jws import b64url
from conformance.model import Skipped
from conformance.netutil import free_port
from conformance.profile import BudgetTransport, ProfileError, install_budget, load_profile

SECRET = b"\x01\x02super-secret-hmac-key\xfe\xff" * 2
EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "profiles" / "example.toml"


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_example_profile_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_EAB_HMAC_KEY", b64url(SECRET))
    copy = write(tmp_path, EXAMPLE.read_text(), "example.toml")
    (tmp_path / "lab-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")  # the bundle it names
    profile = load_profile(copy)
    assert profile.directory.startswith("https://") and profile.name == "example-lab-ca"
    assert profile.eab == ("kid-from-your-ca", SECRET)
    assert profile.challenge_types == ("http-01", "dns-01") and profile.budget == {"new_accounts": 30, "new_orders": 60}


def test_minimal_profile_defaults(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, '[server]\ndirectory = "https://acme.test/dir"\n'))
    assert profile.name == "p" and profile.backend == "builtin" and profile.eab is None
    assert profile.http_port is None  # the harness then uses the standard port 80
    # IP identifiers are opt-in: a server we don't control must not get requests it did not agree to.
    assert profile.run_overrides() == {"ip_identifiers": False}


def test_full_profile_sets_run_options(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    profile = load_profile(write(tmp_path, f"""
[server]
name = "lab CA"
directory = "https://acme.test/dir"
ca_bundle = "ca.pem"
[eab]
kid = "k1"
hmac_key = "{b64url(SECRET)}"
[responders]
backend = "builtin"
http_port = 8080
dns_port = 8053
tls_port = 8443
[identifiers]
base_domain = "Lab.Example.ORG."
allow_ip = true
[features]
challenge_types = ["http-01", "dns-01"]
ip_identifiers = true
ari = true
profiles = ["classic", "shortlived"]
[timeouts]
check = 90
request = 15.5
[budget]
new_accounts = 5
new_orders = 10
"""))
    assert profile.ca_bundle == str(bundle)  # relative to the profile's folder
    assert (profile.http_port, profile.dns_port, profile.tls_port) == (8080, 8053, 8443)
    overrides = profile.run_overrides()
    assert overrides == {
        "ip_identifiers": True, "base_domain": "lab.example.org", "challenge_types": ("http-01", "dns-01"),
        "ari": True, "profiles": ("classic", "shortlived"), "budget": {"new_accounts": 5, "new_orders": 10},
        "check_timeout": 90, "request_timeout": 15.5,
    }
    RunOptions(**overrides)  # every key is a real RunOptions field
    record = profile.record()
    assert record["eab_kid"] == "k1" and record["budget_new_orders"] == "10"
    assert b64url(SECRET) not in json.dumps(record) and "secret" not in repr(profile)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[server]\nname = 'x'\n", "server.directory"),
        ("[server]\ndirectory = 'ftp://x/dir'\n", "http(s) URL"),
        ("[server]\ndirectory = 'https://x/d'\n[surver]\n", "unknown section [surver]"),
        ("[server]\ndirectory = 'https://x/d'\ndirectroy = 'y'\n", "unknown key server.directroy"),
        ("[server]\ndirectory = 'https://x/d'\ninsecure = 'yes'\n", "server.insecure must be true or false"),
        ("[server]\ndirectory = 'https://x/d'\n[responders]\nhttp_port = 0\n", "responders.http_port must be a port"),
        ("[server]\ndirectory = 'https://x/d'\n[responders]\ndns_port = 70000\n", "responders.dns_port must be a port"),
        ("[server]\ndirectory = 'https://x/d'\n[responders]\ntls_port = true\n", "responders.tls_port must be an integer"),
        ("[server]\ndirectory = 'https://x/d'\n[responders]\ntls_port = '443'\n", "responders.tls_port must be an integer"),
        ("[server]\ndirectory = 'https://x/d'\n[responders]\nbackend = 'magic'\n", "responders.backend must be one of"),
        ("[server]\ndirectory = 'https://x/d'\n[responders]\nbackend = 'hook'\n", "needs responders.hook"),
        ("[server]\ndirectory = 'https://x/d'\n[responders]\nhost = 'localhost'\n", "responders.host must be an IP"),
        ("[server]\ndirectory = 'https://x/d'\nca_bundle = 'missing.pem'\n", "does not exist"),
        ("[server]\ndirectory = 'https://x/d'\ninsecure = true\nca_bundle = 'x.pem'\n", "not both"),
        ("[server]\ndirectory = 'https://x/d'\n[eab]\nhmac_key = 'AAAA'\n", "eab.kid is required"),
        ("[server]\ndirectory = 'https://x/d'\n[eab]\nkid = 'k'\n", "needs hmac_key"),
        ("[server]\ndirectory = 'https://x/d'\n[eab]\nkid = 'k'\nhmac_key = 'not base64!'\n", "not base64url"),
        ("[server]\ndirectory = 'https://x/d'\n[eab]\nkid = 'k'\nhmac_key_env = 'NO_SUCH_VAR_A2C'\n", "is not set"),
        ("[server]\ndirectory = 'https://x/d'\n[features]\nchallenge_types = ['http-02']\n", "unknown types http-02"),
        ("[server]\ndirectory = 'https://x/d'\n[features]\nchallenge_types = 'http-01'\n", "must be a list"),
        ("[server]\ndirectory = 'https://x/d'\n[identifiers]\nbase_domain = 'localhost'\n", "base_domain"),
        ("[server]\ndirectory = 'https://x/d'\n[timeouts]\ncheck = 0\n", "timeouts.check must be a positive"),
        ("[server]\ndirectory = 'https://x/d'\n[budget]\nnew_orders = -1\n", "budget.new_orders"),
        ("[server]\ndirectory = 'https://x/d'\n[budget]\nnew_certs = 3\n", "unknown key budget.new_certs"),
        ("[server\ndirectory = 'https://x/d'\n", "not valid TOML"),
        ("server = 3\n", "server must be a table"),
    ],
)
def test_validation_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, text))
    assert message in str(info.value)
    assert str(tmp_path / "p.toml") in str(info.value)  # says which file


def test_bad_hmac_key_is_never_echoed(tmp_path: Path) -> None:
    secret_looking = "this-is-the-secret value"
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, f"[server]\ndirectory = 'https://x/d'\n[eab]\nkid = 'k'\nhmac_key = '{secret_looking}'\n"))
    assert secret_looking not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "invalid profile"),
        (["--directory", "https://x/d"], "do not combine it with --directory"),
        (["--target", "pebble"], "do not combine it with --target"),
        (["--http-port", "80"], "do not combine it with --http-port"),
    ],
)
def test_run_profile_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         extra: list[str], message: str) -> None:
    text = "[server]\ndirectory = 'https://x/d'\n" if extra else "[server]\nname = 'no directory'\n"
    path = write(tmp_path, text)
    code = main(["run", "--profile", str(path), "--report-dir", str(tmp_path / "r"), *extra])
    assert code == EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing was started or written


def test_budget_transport_skips_beyond_budget() -> None:
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(201)

    directory = {"newAccount": "https://ca.test/new-acct", "newOrder": "https://ca.test/new-order"}
    guard = BudgetTransport(httpx.MockTransport(answer), {"new_accounts": 2}, directory)
    with httpx.Client(transport=guard) as client:
        assert client.post("https://ca.test/new-acct").status_code == 201
        assert client.post("https://ca.test/new-acct").status_code == 201
        with pytest.raises(Skipped, match="budget of 2 new accounts"):
            client.post("https://ca.test/new-acct")
        # Other resources and other methods are not limited.
        assert client.post("https://ca.test/new-order").status_code == 201
        assert client.head("https://ca.test/new-acct").status_code == 201
    assert sent.count("https://ca.test/new-acct") == 3  # two POSTs and the HEAD: the third POST was never sent
    assert guard.used() == {"new_accounts": 2}


# -- run --profile against a real Pebble described by a profile ---------------------------------


@pytest.fixture()
def pebble_for_profile(tmp_path: Path) -> Iterator[tuple[Harness, dict[str, int]]]:
    """A Pebble told to validate on ports nobody listens on yet: the profile run's own builtin
    responders bind them. The hook backend is never called; it only keeps open_harness from
    starting responders of its own."""
    if shutil.which("pebble") is None:
        pytest.skip("pebble binary not installed")
    ports = {"http": free_port(), "dns": free_port(udp_too=True), "tls": free_port()}
    options = TargetOptions(workdir=tmp_path / "pebble", backend="hook", hook_command=["false"],
                            http_port=ports["http"], dns_port=ports["dns"], tls_port=ports["tls"])
    with open_harness(options) as harness:
        yield harness, ports


def test_run_profile_against_embedded_pebble(tmp_path: Path, pebble_for_profile: tuple[Harness, dict[str, int]]) -> None:
    harness, ports = pebble_for_profile
    assert harness.eab is not None and isinstance(harness.target.verify, str)
    kid, key = harness.eab
    profile = write(tmp_path, f"""
[server]
name = "pebble-by-profile"
directory = "{harness.target.directory_url}"
ca_bundle = "{harness.target.verify}"
[eab]
kid = "{kid}"
hmac_key = "{b64url(key)}"
[responders]
backend = "builtin"
http_port = {ports["http"]}
dns_port = {ports["dns"]}
tls_port = {ports["tls"]}
[identifiers]
base_domain = "profile.acme-conformance.example"
[features]
challenge_types = ["http-01"]
[budget]
new_accounts = 20
""")
    run_dir = tmp_path / "run"
    code = main(["run", "--profile", str(profile), "--select", "directory.*", "--select", "issuance.*",
                 "--report-dir", str(run_dir), "-q"])
    results = json.loads((run_dir / "results.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in results["checks"]}
    assert code == 0, verdicts
    assert verdicts["issuance.http-01"] == "PASS"
    # The profile says only http-01 works: the other challenge types are skipped, not errors.
    assert verdicts["issuance.dns-01"] == "SKIP" and verdicts["issuance.tls-alpn-01"] == "SKIP"
    target = results["target"]
    assert target["name"] == "external" and target["directory_url"] == harness.target.directory_url
    assert target["notes"]["profile"] == "pebble-by-profile" and target["notes"]["eab_kid"] == kid
    assert target["notes"]["budget_new_accounts"] == "20"
    # The HMAC key is in no artefact of the run.
    for artefact in run_dir.iterdir():
        assert b64url(key) not in artefact.read_text(errors="replace"), artefact.name
    # The issued certificate's names come from the profile's base domain.
    issuance = next(c for c in results["checks"] if c["id"] == "issuance.http-01")
    assert "profile.acme-conformance.example" in json.dumps(issuance["exchanges"])


def test_profile_budget_skips_checks_on_pebble(tmp_path: Path, pebble_for_profile: tuple[Harness, dict[str, int]]) -> None:
    harness, ports = pebble_for_profile
    profile = write(tmp_path, f"""
[server]
directory = "{harness.target.directory_url}"
ca_bundle = "{harness.target.verify}"
[responders]
http_port = {ports["http"]}
dns_port = {ports["dns"]}
tls_port = {ports["tls"]}
[budget]
new_accounts = 0
""")
    run_dir = tmp_path / "run"
    main(["run", "--profile", str(profile), "--select", "issuance.http-01", "--report-dir", str(run_dir), "-q"])
    check = json.loads((run_dir / "results.json").read_text())["checks"][0]
    assert check["verdict"] == "SKIP" and "budget" in check["message"]


def test_install_budget_needs_a_budget(harness: Harness) -> None:
    run = RunContext(harness.target, harness.backend, RunOptions())
    try:
        assert install_budget(run, {}) is None
        guard = install_budget(run, {"new_orders": 1})
        assert guard is not None and run.client._transport is guard
    finally:
        run.close()

