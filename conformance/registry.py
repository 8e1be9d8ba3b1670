"""Registration and selection of checks.

Scenario modules register checks with the :func:`check` decorator at import time;
:func:`load_scenarios` imports every module of the ``scenarios`` package once.
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conformance.model import KNOWN_TAGS, CheckSpec, Level

if TYPE_CHECKING:
    from conformance.context import CheckContext

_ID_PATTERN = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)+$")

_REGISTRY: dict[str, CheckSpec] = {}
_NOT_JUDGED: dict[str, str] = {}  # catalogue id -> why no check judges it
_loaded = False


class RegistryError(Exception):
    """A scenario module declared a check wrongly (duplicate id, unknown tag, ...)."""


def check(
    id: str,  # noqa: A002 - the natural name in a declaration
    *,
    title: str,
    section: str,
    level: Level | str,
    requirements: Sequence[str],
    sentence: str,
    tags: Iterable[str] = (),
    timeout: float = 30.0,
) -> Callable[[Callable[[CheckContext], None]], Callable[[CheckContext], None]]:
    """Declare a check. The decorated function judges it by returning (PASS) or raising an outcome."""
    if not _ID_PATTERN.match(id):
        raise RegistryError(f"check id {id!r} must be dotted lower-case words, e.g. 'nonce.get-returns-204'")
    level = Level(level)
    unknown = set(tags) - KNOWN_TAGS
    if unknown:
        raise RegistryError(f"check {id}: unknown tags {sorted(unknown)}")
    if not requirements:
        raise RegistryError(f"check {id}: name at least one catalogue requirement id")

    def register(func: Callable[[CheckContext], None]) -> Callable[[CheckContext], None]:
        existing = _REGISTRY.get(id)
        if existing is not None and existing.module != func.__module__:
            raise RegistryError(f"check id {id} is declared twice ({existing.module}, {func.__module__})")
        _REGISTRY[id] = CheckSpec(
            id=id,
            title=title,
            section=section,
            level=level,
            requirements=tuple(requirements),
            sentence=" ".join(sentence.split()),
            tags=frozenset(tags),
            func=func,
            timeout=timeout,
            module=func.__module__,
        )
        return func

    return register


def not_judged(requirement_id: str, reason: str) -> None:
    """Declare (in a scenario module) why a catalogue requirement has no check: coverage shows it."""
    if not reason.strip():
        raise RegistryError(f"{requirement_id}: a not-judged declaration needs a reason")
    _NOT_JUDGED[requirement_id] = " ".join(reason.split())


def not_judged_reasons() -> dict[str, str]:
    load_scenarios()
    return dict(_NOT_JUDGED)


def load_scenarios() -> None:
    """Import every module under ``scenarios`` (once), which registers their checks."""
    global _loaded
    if _loaded:
        return
    import scenarios

    for info in sorted(pkgutil.iter_modules(scenarios.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"scenarios.{info.name}")
    _loaded = True


def all_checks() -> list[CheckSpec]:
    load_scenarios()
    return sorted(_REGISTRY.values(), key=lambda spec: spec.id)


def get_check(check_id: str) -> CheckSpec:
    load_scenarios()
    try:
        return _REGISTRY[check_id]
    except KeyError:
        raise KeyError(f"no check with id {check_id!r}") from None


@dataclass
class Selection:
    """What the user asked to run: globs on ids, sections, tags and levels (all optional)."""

    include: list[str] = field(default_factory=list)  # id globs; empty = everything
    exclude: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # prefixes: "7.2" matches "RFC 8555 §7.2"
    tags: list[str] = field(default_factory=list)  # a check needs one of these tags
    exclude_tags: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)

    def validate(self) -> None:
        unknown = (set(self.tags) | set(self.exclude_tags)) - KNOWN_TAGS
        if unknown:
            raise ValueError(
                f"unknown tag(s) {', '.join(sorted(unknown))}; known tags: {', '.join(sorted(KNOWN_TAGS))}"
            )
        for level in self.levels:
            try:
                Level(level)
            except ValueError:
                known = ", ".join(item.value for item in Level)
                raise ValueError(f"unknown level {level!r}; known levels: {known}") from None

    def matches(self, spec: CheckSpec) -> bool:
        if self.include and not any(fnmatch.fnmatchcase(spec.id, pattern) for pattern in self.include):
            return False
        if any(fnmatch.fnmatchcase(spec.id, pattern) for pattern in self.exclude):
            return False
        if self.sections and not any(_section_matches(spec.section, wanted) for wanted in self.sections):
            return False
        if self.tags and not (spec.tags & set(self.tags)):
            return False
        if spec.tags & set(self.exclude_tags):
            return False
        return not (self.levels and spec.level.value not in self.levels)

    def apply(self, specs: Iterable[CheckSpec]) -> list[CheckSpec]:
        return [spec for spec in specs if self.matches(spec)]


def _section_matches(section: str, wanted: str) -> bool:
    """"7.2" matches "RFC 8555 §7.2" and "§7.2.1" but not "§7.20"; "RFC 8737" matches that RFC."""
    wanted = wanted.strip().lstrip("§")
    if not wanted:
        return False
    number = section.rsplit("§", 1)[-1]
    if number == wanted or number.startswith(wanted + "."):
        return True
    return section.lower().startswith(wanted.lower())
