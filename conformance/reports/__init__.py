"""Renderers over the event stream: each turns a run folder's events into one artefact.

A renderer is ``render(document, run_dir) -> Path`` where ``document`` is the results
document rebuilt from ``events.ndjson`` (see conformance.events.results_document). Every format
is produced from the stream alone, so any run — complete or interrupted — can be re-rendered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from conformance.events import EVENTS_FILE, RESULTS_FILE, read_events, results_document
from conformance.reports._redact import redact

Renderer = Callable[[dict[str, Any], Path], Path]


def render_results_json(document: dict[str, Any], run_dir: Path) -> Path:
    path = run_dir / RESULTS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


RENDERERS: dict[str, Renderer] = {"json": render_results_json}


def register(name: str, renderer: Renderer) -> None:
    RENDERERS[name] = renderer


def load_document(run_dir: Path) -> dict[str, Any]:
    events_path = run_dir / EVENTS_FILE
    if not events_path.is_file():
        raise FileNotFoundError(f"{run_dir} holds no {EVENTS_FILE}: not a run folder")
    return results_document(read_events(events_path))


def known_formats() -> list[str]:
    _load_builtin_renderers()
    return list(RENDERERS)


def render_all(
    run_dir: Path, formats: Iterable[str] | None = None, secrets: Iterable[bytes | str] = ()
) -> list[Path]:
    """Render the given formats (default: all registered) for a run folder.

    The document is redacted once here, before any renderer sees it (the event writer redacts
    too; this covers streams written by other means and secrets known only now).
    """
    _load_builtin_renderers()
    document = redact(load_document(run_dir), secrets)
    names = list(formats) if formats is not None else list(RENDERERS)
    unknown = [n for n in names if n not in RENDERERS]
    if unknown:
        raise ValueError(f"unknown report format(s) {', '.join(unknown)}; known: {', '.join(sorted(RENDERERS))}")
    paths: list[Path] = []
    failures: list[str] = []
    for name in names:
        # One renderer's failure must not cost the others: each format is independent.
        try:
            paths.append(RENDERERS[name](document, run_dir))
        except Exception as exc:  # noqa: BLE001 - reported to the user, never a traceback
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    if failures:
        raise RenderError(failures, paths)
    return paths


class RenderError(Exception):
    """Some formats could not be rendered; ``paths`` holds the ones that were."""

    def __init__(self, failures: list[str], paths: list[Path]) -> None:
        super().__init__("could not render " + "; ".join(failures))
        self.failures = failures
        self.paths = paths


def _load_builtin_renderers() -> None:
    """Import the renderer modules of this package; each registers itself."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
