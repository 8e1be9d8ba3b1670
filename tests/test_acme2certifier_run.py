"""`acme-conformance run --target acme2certifier` end to end, judged against its baseline.

A small selection keeps this fast; the full run (about a minute) is what scripts/matrix.sh does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_acme2certifier import INSTALL_HINT, _standard_ports_free

from conformance.cli import main
from conformance.targets import acme2certifier as a2c

BASELINE = Path(__file__).resolve().parent.parent / "baselines" / "acme2certifier"

# acme2certifier validates on the fixed ports 80/53/443: under pytest-xdist these tests share one worker.
pytestmark = pytest.mark.xdist_group("acme2certifier")


def test_run_against_acme2certifier_matches_its_baseline(tmp_path: Path) -> None:
    if a2c.installed_version() is None:
        pytest.skip(f"acme2certifier not installed: {INSTALL_HINT}")
    if not _standard_ports_free():
        pytest.skip("needs 127.0.0.1:80/443/53 free and bindable (root, e.g. inside unshare -n)")
    run_dir = tmp_path / "run"
    code = main(["run", "--target", "acme2certifier", "--select", "directory.resources-are-https-urls",
                 "--select", "nonce.*", "--select", "issuance.*", "--select", "revocation.by-*",
                 "--baseline", str(BASELINE), "--report-dir", str(run_dir), "-q"])
    results = json.loads((run_dir / "results.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in results["checks"]}
    assert code == 0, verdicts  # every FAIL is an expected, documented deviation
    assert "ERROR" not in verdicts.values(), verdicts
    # All three challenge types work through our responders on 80/53/443.
    assert verdicts["issuance.http-01"] == verdicts["issuance.dns-01"] == verdicts["issuance.tls-alpn-01"] == "PASS"
    assert verdicts["nonce.cache-control-no-store"] == "FAIL"  # a real deviation (RFC 8555 §7.2)
    target = results["target"]
    assert target["name"] == "acme2certifier" and target["version"] == a2c.SUPPORTED_VERSION
    assert target["notes"]["transport"].startswith("plain HTTP")
    assert (run_dir / "server.log").is_file()
    # No key material from its private work folder ends up in the artefacts.
    for artefact in run_dir.iterdir():
        assert "PRIVATE KEY" not in artefact.read_text(errors="replace"), artefact.name
