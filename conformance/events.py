"""The run's event stream: typed events appended to ``events.ndjson`` as they happen.

Every report is rendered from this stream, so an interrupted run still has everything it
recorded up to the interruption, and any format can be re-rendered later without re-testing.
Events: ``run-started``, ``check-started``, ``exchange``, ``verdict``, ``run-finished``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from conformance import __version__
from conformance.recorder import Exchange
from conformance.results import RESULTS_SCHEMA_VERSION, CheckResult, RunRecord, utc_iso

EVENTS_FILE = "events.ndjson"
RESULTS_FILE = "results.json"
EVENT_SCHEMA_VERSION = 1


class EventWriter:
    """Appends one JSON object per line and flushes it at once (a crash loses at most a line)."""

    def __init__(self, path: Path, secrets: Iterable[bytes | str] = ()) -> None:
        # Imported here: conformance.reports imports this module.
        from conformance.reports._redact import Redactor

        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        # Every event is redacted before it is written: the stream is an artefact too.
        self._redactor = Redactor(secrets)
        # Events that happen before run-started (the directory probe's exchanges) wait here, so
        # run-started is always the stream's first event.
        self._held: list[tuple[str, dict[str, Any]]] | None = []

    def emit(self, event_type: str, **data: Any) -> None:
        with self._lock:
            if self._held is not None and event_type != "run-started":
                self._held.append((event_type, data))
                return
            self._write(event_type, data)
            if event_type == "run-started" and self._held is not None:
                held, self._held = self._held, None
                for held_type, held_data in held:
                    self._write(held_type, held_data)

    def _write(self, event_type: str, data: dict[str, Any]) -> None:
        if self._file is None:
            return
        event = self._redactor.value({"type": event_type, "time": utc_iso(time.time()), **data})
        self._file.write(json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str) + "\n")
        self._file.flush()

    def add_secret(self, secret: bytes | str) -> None:
        """A value that must never be written (e.g. the EAB HMAC key, once the harness made it)."""
        with self._lock:
            self._redactor.add(secret)

    def run_started(self, record: RunRecord) -> None:
        self.emit(
            "run-started",
            schema_version=EVENT_SCHEMA_VERSION,
            tool={"name": "acme-conformance", "version": __version__},
            target=record.target,
            selection=record.selection,
            started=utc_iso(record.started),
        )

    def check_started(self, check: dict[str, Any]) -> None:
        self.emit("check-started", check=check)

    def exchange(self, owner: str, exchange: Exchange) -> None:
        self.emit("exchange", owner=owner, exchange=exchange.to_dict())

    def verdict(self, result: CheckResult) -> None:
        data = result.to_dict()
        data["exchanges"] = [e.id for e in result.exchanges]
        self.emit("verdict", result=data)

    def run_finished(self, record: RunRecord, counts: dict[str, int]) -> None:
        self.emit(
            "run-finished",
            ended=utc_iso(record.ended or time.time()),
            interrupted=record.interrupted,
            harness_error=record.harness_error,
            counts=counts,
        )

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Events from a file; a torn last line (the run was killed mid-write) is ignored."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and "type" in event:
                yield event


def results_document(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Rebuild the results.json document from an event stream (complete or interrupted)."""
    run: dict[str, Any] = {}
    exchanges: dict[int, dict[str, Any]] = {}
    owners: dict[int, str] = {}
    verdicts: list[dict[str, Any]] = []
    started_ids: list[str] = []
    started_checks: dict[str, dict[str, Any]] = {}
    finished: dict[str, Any] | None = None
    for event in events:
        kind = event["type"]
        if kind == "run-started":
            run = event
        elif kind == "exchange":
            exchange = event["exchange"]
            exchanges[exchange["id"]] = exchange
            owners[exchange["id"]] = event.get("owner", "")
        elif kind == "check-started":
            started_ids.append(event["check"]["id"])
            started_checks[event["check"]["id"]] = event["check"]
        elif kind == "verdict":
            verdicts.append(event["result"])
        elif kind == "run-finished":
            finished = event
    checks = []
    for result in verdicts:
        result = dict(result)
        result["exchanges"] = [exchanges[i] for i in result.get("exchanges", []) if i in exchanges]
        checks.append(result)
    judged = {c["id"] for c in checks}
    counts = {v: 0 for v in ("PASS", "FAIL", "WARN", "INFO", "SKIP", "ERROR")}
    for result in checks:
        counts[result["verdict"]] = counts.get(result["verdict"], 0) + 1
    setup_ids = sorted(i for i, owner in owners.items() if not owner.startswith("check:"))
    unfinished = [check_id for check_id in started_ids if check_id not in judged]
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "tool": run.get("tool", {"name": "acme-conformance", "version": __version__}),
        "target": run.get("target", {}),
        "started": run.get("started"),
        "ended": finished.get("ended") if finished else None,
        "interrupted": True if finished is None else bool(finished.get("interrupted")),
        "harness_error": finished.get("harness_error") if finished else None,
        "selection": run.get("selection", {}),
        "counts": counts,
        "checks": checks,
        # Checks that started but never got a verdict (the run was interrupted during them).
        "unfinished": unfinished,
        # The same checks with what they had sent so far: the evidence of an interrupted check.
        "unfinished_checks": [
            {
                **started_checks[check_id],
                "exchanges": [exchanges[i] for i in sorted(exchanges) if owners[i] == f"check:{check_id}"],
            }
            for check_id in unfinished
        ],
        "setup_exchanges": [exchanges[i] for i in setup_ids],
    }
