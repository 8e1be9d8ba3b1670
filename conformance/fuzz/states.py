"""The §7.1.6 state machines as data, and the reachability test SM-1 asks for.

A server may skip states (synchronous validation never shows ``processing``), so a change
A→C is allowed when C is reachable from A along allowed edges, and staying put is always
allowed. Terminal states have no outgoing edges, so leaving one is never reachable.
"""

from __future__ import annotations

EDGES: dict[str, dict[str, set[str]]] = {
    "challenge": {
        "pending": {"processing", "valid", "invalid"},
        "processing": {"processing", "valid", "invalid"},
        "valid": set(),
        "invalid": set(),
    },
    "authz": {
        "pending": {"valid", "invalid", "deactivated", "revoked", "expired"},
        "valid": {"revoked", "deactivated", "expired"},
        "invalid": set(),
        "deactivated": set(),
        "expired": set(),
        "revoked": set(),
    },
    "order": {
        "pending": {"ready", "invalid"},
        "ready": {"processing", "invalid"},
        "processing": {"valid", "invalid"},
        "valid": set(),
        "invalid": set(),
    },
    "account": {"valid": {"deactivated", "revoked"}, "deactivated": set(), "revoked": set()},
}


def reachable(kind: str, start: str, end: str) -> bool:
    """Whether ``end`` can follow ``start`` for an object of ``kind`` (possibly skipping states)."""
    if start == end:
        return True
    graph = EDGES.get(kind)
    if graph is None or start not in graph:
        return True  # an unknown kind or status is not this invariant's business (AZ-2/CH-2 judge enums)
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), set()):
            if nxt == end:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def known_status(kind: str, status: str) -> bool:
    return kind not in EDGES or status in EDGES[kind]


def is_terminal(kind: str, status: str) -> bool:
    graph = EDGES.get(kind, {})
    return status in graph and not graph[status]
