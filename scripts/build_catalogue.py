"""Regenerate conformance/data/requirements.json from the shared requirement catalogue.

Usage: python scripts/build_catalogue.py [../shared/requirements.md]

The catalogue's ids, sections, levels, tags and a one-line summary are shipped as package
data so `acme-conformance coverage` works without the shared folder.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ENTRY = re.compile(r"^\*\*(?P<id>[A-Z0-9]+-\d+)\*\*\s+(?P<rest>.*)$")
GROUP = re.compile(r"^## (?P<number>\d+)\. (?P<title>.+)$")
TAGS = re.compile(r"\[([a-z0-9]+)\]")
LEVEL = re.compile(r"`([^`]+)`")


def parse(text: str) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    group = ""
    current: dict[str, object] | None = None
    for line in text.splitlines():
        if match := GROUP.match(line):
            group = match["title"].strip()
            continue
        if match := ENTRY.match(line):
            rest = match["rest"]
            tags = TAGS.findall(rest)
            levels = LEVEL.findall(rest)
            section = rest.split("`")[0].strip() if "`" in rest else TAGS.sub("", rest).strip()
            current = {
                "id": match["id"],
                "group": group,
                "section": section,
                "level": levels[0] if levels else "",
                "tags": tags,
                "send": "",
                "expect": "",
            }
            entries.append(current)
            continue
        if current is not None:
            for field in ("send", "expect"):
                prefix = field.capitalize() + ":"
                if line.startswith(prefix) and not current[field]:
                    current[field] = line[len(prefix):].strip()
    return entries


def main() -> int:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/requirements.md")
    entries = parse(source.read_text(encoding="utf-8"))
    target = Path(__file__).resolve().parent.parent / "conformance" / "data" / "requirements.json"
    target.write_text(json.dumps({"source": "shared/requirements.md", "requirements": entries}, indent=1) + "\n")
    print(f"{len(entries)} requirements written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
