"""Baseline files and the fail policy (conformance/baseline.py, conformance/policy.py): no network."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from conformance.baseline import BaselineError, load_baseline, starting_baseline
from conformance.model import Verdict
from conformance.policy import Disposition, FailPolicy, known_ids, load_policy

REPO = Path(__file__).resolve().parent.parent


def entry(check: str, verdict: str = "FAIL", reason: str = "known deviation") -> str:
    return f'[[expected]]\ncheck = "{check}"\nverdict = "{verdict}"\nreason = "{reason}"\n'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_file_and_directory_of_fragments(tmp_path: Path) -> None:
    single = write(tmp_path / "one.toml", entry("nonce.get-returns-204") + entry("nonce.head-returns-200", "warn"))
    baseline = load_baseline(single)
    assert sorted(baseline.entries) == ["nonce.get-returns-204", "nonce.head-returns-200"]
    assert baseline.get("nonce.head-returns-200").verdict is Verdict.WARN  # verdicts are case-insensitive
    assert baseline.get("nonce.get-returns-204").source == f"{single} entry 1"

    write(tmp_path / "dir" / "a.toml", entry("directory.has-new-nonce", "ERROR"))
    write(tmp_path / "dir" / "b.toml", 'target = "pebble 2.4.0"\n' + entry("nonce.get-returns-204"))
    write(tmp_path / "dir" / "notes.txt", "not a fragment")
    merged = load_baseline(tmp_path / "dir")
    assert sorted(merged.entries) == ["directory.has-new-nonce", "nonce.get-returns-204"]
    assert [p.name for p in merged.sources] == ["a.toml", "b.toml"]


def test_every_problem_is_reported_with_its_place(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    write(folder / "a.toml", entry("nonce.get-returns-204")
          + '[[expected]]\ncheck = "nonce.head-returns-200"\nverdict = "FAIL"\n'  # no reason
          + entry("nonce.head-has-replay-nonce", "BROKEN")
          + entry("directory.has-new-nonce", "PASS")
          + entry("directory.meta-member-types", reason="TODO: check this")
          + '[[expected]]\ncheck = "x.y"\nverdict = "FAIL"\nreason = "r"\nreasn = "typo"\n')
    write(folder / "b.toml", entry("nonce.get-returns-204"))  # duplicate across fragments
    with pytest.raises(BaselineError) as caught:
        load_baseline(folder)
    text = str(caught.value)
    assert f"{folder / 'a.toml'} entry 2 (nonce.head-returns-200): 'reason' is missing" in text
    assert "entry 3 (nonce.head-has-replay-nonce): unknown verdict 'BROKEN'" in text
    assert "entry 4 (directory.has-new-nonce): verdict PASS never fails a run" in text
    assert "entry 5 (directory.meta-member-types): the reason still starts with TODO" in text
    assert "entry 6 (x.y): unknown key 'reasn'" in text
    assert f"{folder / 'b.toml'} entry 1: check 'nonce.get-returns-204' is listed twice (also {folder / 'a.toml'} entry 1)" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("expected = 3\n", "'expected' must be an array of tables"),
        ("[[expected]\n", "not valid TOML"),
        ("[meta]\nx = 1\n", "unknown top-level key 'meta'"),
        ('[[expected]]\nverdict = "FAIL"\nreason = "r"\n', "'check' (the check id) is missing"),
        ('[[expected]]\ncheck = "a.b"\nreason = "r"\n', "'verdict' is missing"),
        ('[[expected]]\ncheck = "a.b"\nverdict = "FAIL"\nreason = "  "\n', "'reason' is missing or empty"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "b.toml", text)
    with pytest.raises(BaselineError, match="invalid baseline") as caught:
        load_baseline(path)
    assert message in str(caught.value)


def test_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="does not exist"):
        load_baseline(tmp_path / "nope.toml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BaselineError, match="holds no"):
        load_baseline(tmp_path / "empty")


def test_unknown_check_ids_are_warnings(tmp_path: Path) -> None:
    path = write(tmp_path / "b.toml", entry("nonce.get-returns-204") + entry("nonce.no-such-check"))
    policy, warnings = load_policy(str(path), "fail", ["nonce.get-returns-204"])
    assert len(warnings) == 1 and "nonce.no-such-check" in warnings[0] and "entry 2" in warnings[0]
    assert policy.baseline is not None and len(policy.baseline) == 2
    assert load_policy(None, "warn", [])[0].baseline is None
    # Registered checks and the fuzzer's invariants may be named (baselines/pebble/ holds both).
    assert {"nonce.get-returns-204", "fuzz.nonce-unique"} <= known_ids()
    with pytest.raises(ValueError, match="fail-on"):
        FailPolicy(fail_on="error")


def test_policy_judgements(tmp_path: Path) -> None:
    baseline = load_baseline(write(tmp_path / "b.toml", entry("a.expected-fail") + entry("a.fixed")
                                   + entry("a.untestable") + entry("a.softer") + entry("a.known-warn", "WARN")))
    policy = FailPolicy(baseline=baseline)
    cases = {
        "a.expected-fail": (Verdict.FAIL, Disposition.EXPECTED, False),
        "a.fixed": (Verdict.PASS, Disposition.PASSED, True),  # fixed: the entry is stale
        "a.untestable": (Verdict.ERROR, Disposition.COULD_NOT_TEST, False),  # proves nothing about the entry
        "a.softer": (Verdict.WARN, Disposition.NOTED, True),
        "a.known-warn": (Verdict.WARN, Disposition.EXPECTED, False),
        "a.new": (Verdict.FAIL, Disposition.NEW, False),
        "a.warn": (Verdict.WARN, Disposition.NOTED, False),
        "a.error": (Verdict.ERROR, Disposition.COULD_NOT_TEST, False),
        "a.skip": (Verdict.SKIP, Disposition.SKIPPED, False),
        "a.info": (Verdict.INFO, Disposition.PASSED, False),
    }
    for check_id, (verdict, disposition, stale) in cases.items():
        judgement = policy.judge(check_id, verdict)
        assert (judgement.disposition, judgement.stale) == (disposition, stale), check_id
    stale = policy.judge("a.fixed", Verdict.PASS).stale_message()
    assert "a.fixed" in stale and "expects FAIL" in stale and "now gives PASS" in stale and "b.toml entry 2" in stale
    # --fail-on warn: an unexpected WARN is a new failure; an expected one still is not.
    strict = FailPolicy(fail_on="warn", baseline=baseline)
    assert strict.judge("a.warn", Verdict.WARN).disposition is Disposition.NEW
    assert strict.judge("a.known-warn", Verdict.WARN).disposition is Disposition.EXPECTED


def test_policy_outcome_of_a_run(tmp_path: Path) -> None:
    baseline = load_baseline(write(tmp_path / "b.toml", entry("a.known") + entry("a.fixed")))
    policy = FailPolicy(baseline=baseline)
    clean = policy.evaluate([("a.known", Verdict.FAIL), ("a.fixed", Verdict.FAIL), ("a.warn", Verdict.WARN)])
    assert clean.passed and not clean.failed
    assert [j.check_id for j in clean.expected] == ["a.known", "a.fixed"]
    assert [j.check_id for j in clean.noted] == ["a.warn"]

    regressed = policy.evaluate([("a.known", Verdict.FAIL), ("a.fixed", Verdict.PASS), ("a.new", Verdict.FAIL)])
    assert regressed.failed and not regressed.passed
    assert [j.check_id for j in regressed.new] == ["a.new"] and [j.check_id for j in regressed.stale] == ["a.fixed"]
    text = "\n".join(regressed.summary_lines())
    assert "new failures: 1" in text and "stale baseline entries: 1" in text and "a.fixed" in text

    untestable = policy.evaluate([("a.known", Verdict.FAIL), ("a.fixed", Verdict.FAIL), ("b.x", Verdict.ERROR)])
    assert not untestable.failed and not untestable.passed and [j.check_id for j in untestable.could_not_test] == ["b.x"]


def test_starting_baseline_round_trip() -> None:
    document = {
        "target": {"name": "pebble", "version": "2.4.0", "directory_url": "https://127.0.0.1:14000/dir"},
        "checks": [
            {"id": "z.warned", "verdict": "WARN", "message": "a SHOULD broken", "section": "RFC 8555 §7.2",
             "level": "SHOULD", "sentence": "It SHOULD ..."},
            {"id": "a.failed", "verdict": "FAIL", "message": 'header "x"\\ odd\nline', "actual": "public",
             "section": "RFC 8555 §7.2", "level": "MUST", "sentence": 'The server MUST include "no-store".'},
            {"id": "b.passed", "verdict": "PASS", "message": "ok"},
            {"id": "c.info", "verdict": "INFO", "message": "fyi"},
        ],
    }
    text = starting_baseline(document, source="reports/run-1")
    parsed = tomllib.loads(text)
    assert [(e["check"], e["verdict"]) for e in parsed["expected"]] == [("a.failed", "FAIL"), ("z.warned", "WARN")]
    reason = parsed["expected"][0]["reason"]
    assert reason.startswith("TODO: ") and 'header "x"\\ odd\nline (actual: public)' in reason
    assert 'RFC 8555 §7.2 (MUST)' in reason and 'The server MUST include "no-store".' in reason
    assert "pebble 2.4.0 at https://127.0.0.1:14000/dir" in text and "reports/run-1" in text
    only_fail = tomllib.loads(starting_baseline(document, [Verdict.FAIL]))
    assert [e["check"] for e in only_fail["expected"]] == ["a.failed"]
    assert "expected" not in tomllib.loads(starting_baseline({"checks": []}))


def test_starting_baseline_is_refused_until_reviewed(tmp_path: Path) -> None:
    document = {"checks": [{"id": "a.failed", "verdict": "FAIL", "message": "m", "section": "s", "level": "MUST",
                            "sentence": "x"}]}
    path = write(tmp_path / "b.toml", starting_baseline(document))
    with pytest.raises(BaselineError, match="still starts with TODO"):
        load_baseline(path)
    write(path, path.read_text(encoding="utf-8").replace('reason = "TODO: ', 'reason = "'))
    assert load_baseline(path).get("a.failed").reason.startswith("m; s (MUST)")


def test_project_pebble_baseline_is_valid() -> None:
    """baselines/pebble/ (fragments by several people) loads, and names only known checks/invariants."""
    baseline = load_baseline(REPO / "baselines" / "pebble")
    assert [entry.source for entry in baseline.unknown_checks(known_ids())] == []
    assert baseline.get("nonce.cache-control-no-store").verdict is Verdict.FAIL
