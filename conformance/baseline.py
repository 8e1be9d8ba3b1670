"""Baselines: the verdicts a target is known and accepted to give, each with a reason.

A baseline is one TOML file, or a directory of TOML files merged together (so several people can
each keep the entries of their own area in a fragment without editing one shared file)::

    [[expected]]
    check = "nonce.cache-control-no-store"
    verdict = "FAIL"
    reason = "Pebble sends 'public, max-age=0, no-cache'; RFC 8555 §7.2: '...'"

Only verdicts that can fail a run belong in a baseline (FAIL, WARN, ERROR): an entry says "this
target deviates here, we know why". Loading validates everything at once and reports every problem
with its file and entry number, so a broken fragment is fixed in one go.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.model import Verdict

# A baseline lists deviations: PASS, INFO and SKIP never fail a run, so expecting them means nothing.
BASELINE_VERDICTS = (Verdict.FAIL, Verdict.WARN, Verdict.ERROR)
TODO_MARKER = "TODO"
_ENTRY_KEYS = {"check", "verdict", "reason"}
_TOP_KEYS = {"expected", "target", "description"}  # target/description: free text for the humans


class BaselineError(ValueError):
    """The baseline cannot be used; the message lists every problem found."""


@dataclass(frozen=True)
class BaselineEntry:
    check: str
    verdict: Verdict
    reason: str
    source: str  # "file.toml entry 3": where a human finds it


@dataclass
class Baseline:
    entries: dict[str, BaselineEntry] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)

    def get(self, check_id: str) -> BaselineEntry | None:
        return self.entries.get(check_id)

    def unknown_checks(self, known_ids: Iterable[str]) -> list[BaselineEntry]:
        """Entries naming no registered check (a typo, or a check renamed or removed)."""
        known = set(known_ids)
        return [entry for check_id, entry in sorted(self.entries.items()) if check_id not in known]

    def __len__(self) -> int:
        return len(self.entries)


def baseline_files(path: Path) -> list[Path]:
    """The files a baseline path stands for: the file itself, or a directory's *.toml sorted by name."""
    if path.is_dir():
        files = sorted(p for p in path.glob("*.toml") if p.is_file())
        if not files:
            raise BaselineError(f"baseline directory {path} holds no *.toml files")
        return files
    if path.is_file():
        return [path]
    raise BaselineError(f"baseline {path} does not exist")


def load_baseline(path: Path | str) -> Baseline:
    """Read and validate a baseline file or directory; raise BaselineError listing every problem."""
    path = Path(path)
    files = baseline_files(path)
    problems: list[str] = []
    baseline = Baseline(sources=files)
    for file in files:
        try:
            document = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file}: cannot read: {exc}")
            continue
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{file}: not valid TOML: {exc}")
            continue
        for entry in _entries(file, document, problems):
            existing = baseline.entries.get(entry.check)
            if existing is not None:
                problems.append(f"{entry.source}: check {entry.check!r} is listed twice (also {existing.source})")
                continue
            baseline.entries[entry.check] = entry
    if problems:
        raise BaselineError(f"invalid baseline {path}:\n  " + "\n  ".join(problems))
    return baseline


def _entries(file: Path, document: Mapping[str, Any], problems: list[str]) -> list[BaselineEntry]:
    for key in sorted(set(document) - _TOP_KEYS):
        problems.append(f"{file}: unknown top-level key {key!r} (entries are [[expected]] tables)")
    tables = document.get("expected", [])
    if not isinstance(tables, list):
        problems.append(f"{file}: 'expected' must be an array of tables, written [[expected]]")
        return []
    entries = []
    for number, table in enumerate(tables, start=1):
        where = f"{file} entry {number}"
        if not isinstance(table, dict):
            problems.append(f"{where}: not a table")
            continue
        entry = _entry(where, table, problems)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry(source: str, table: Mapping[str, Any], problems: list[str]) -> BaselineEntry | None:
    found_before = len(problems)
    check_id = table.get("check")
    where = f"{source} ({check_id})" if isinstance(check_id, str) and check_id.strip() else source
    for key in sorted(set(table) - _ENTRY_KEYS):
        problems.append(f"{where}: unknown key {key!r} (allowed: check, verdict, reason)")
    if not isinstance(check_id, str) or not check_id.strip():
        problems.append(f"{where}: 'check' (the check id) is missing or empty")
    verdict = _verdict(where, table.get("verdict"), problems)
    reason = table.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems.append(f"{where}: 'reason' is missing or empty: say what the target does and why it is accepted")
    elif reason.strip().upper().startswith(TODO_MARKER):
        problems.append(f"{where}: the reason still starts with {TODO_MARKER}: review the deviation, "
                        f"write why it is accepted, and remove the {TODO_MARKER} marker")
    if len(problems) > found_before or verdict is None:
        return None
    assert isinstance(check_id, str) and isinstance(reason, str)
    return BaselineEntry(check=check_id.strip(), verdict=verdict, reason=" ".join(reason.split()), source=source)


def _verdict(where: str, value: Any, problems: list[str]) -> Verdict | None:
    allowed = ", ".join(v.value for v in BASELINE_VERDICTS)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: 'verdict' is missing (one of {allowed})")
        return None
    try:
        verdict = Verdict(value.strip().upper())
    except ValueError:
        problems.append(f"{where}: unknown verdict {value!r} (one of {allowed})")
        return None
    if verdict not in BASELINE_VERDICTS:
        problems.append(f"{where}: verdict {verdict.value} never fails a run, so it does not belong in a "
                        f"baseline (one of {allowed})")
        return None
    return verdict


# -- writing a starting baseline -------------------------------------------------------------------


def toml_string(text: str) -> str:
    """A TOML basic string. JSON's string escapes (\\" \\\\ \\n \\uXXXX ...) are all valid TOML escapes."""
    return json.dumps(text, ensure_ascii=False)


def starting_baseline(document: Mapping[str, Any], verdicts: Iterable[Verdict] = BASELINE_VERDICTS,
                      source: str = "") -> str:
    """A baseline (TOML text) listing every result of a run whose verdict is in ``verdicts``.

    Reasons are pre-filled with what the check saw and the RFC sentence, and start with TODO: the
    loader refuses them until a human has confirmed each deviation is real and accepted.
    """
    wanted = {Verdict(v) for v in verdicts}
    target = document.get("target") or {}
    lines = [
        f"# Baseline for {target.get('name', 'the target')} {target.get('version') or ''}".rstrip()
        + (f" at {target['directory_url']}" if target.get("directory_url") else ""),
        f"# Written by 'acme-conformance baseline' from {source}." if source else
        "# Written by 'acme-conformance baseline'.",
        f"# Every reason starts with {TODO_MARKER}: confirm the deviation is real, say why it is accepted,",
        f"# and delete the {TODO_MARKER} marker. A baseline with {TODO_MARKER} reasons is refused.",
    ]
    checks = sorted((c for c in document.get("checks", []) if c.get("verdict") in wanted),
                    key=lambda c: c.get("id", ""))
    if not checks:
        lines.append("# The run gave no verdict that needs a baseline entry.")
    for result in checks:
        lines += ["", "[[expected]]", f"check = {toml_string(result['id'])}",
                  f"verdict = {toml_string(result['verdict'])}", f"reason = {toml_string(_draft_reason(result))}"]
    return "\n".join(lines) + "\n"


def _draft_reason(result: Mapping[str, Any]) -> str:
    seen = result.get("message") or ""
    if result.get("actual"):
        seen += f" (actual: {result['actual']})"
    return (f"{TODO_MARKER}: {seen}; {result.get('section', '')} ({result.get('level', '')}): "
            f"'{result.get('sentence', '')}'")
