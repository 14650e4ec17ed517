"""The graders defined in this session with ``%%grader NAME`` (one registry per shell)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .args import did_you_mean, usage_error


@dataclass
class Registered:
    """One named grader: its validated spec, and the cell body it came from."""

    name: str
    spec: dict[str, Any]
    body_format: str
    body: str


class GraderRegistry:
    """Named graders, in definition order; redefining a name replaces it."""

    def __init__(self) -> None:
        self._graders: dict[str, Registered] = {}

    def add(self, entry: Registered) -> None:
        self._graders.pop(entry.name, None)
        self._graders[entry.name] = entry

    def get(self, name: str) -> Registered | None:
        return self._graders.get(name)

    def names(self) -> list[str]:
        return list(self._graders)

    def spec(self, name: str) -> dict[str, Any]:
        """A copy of the spec registered as ``name``; a usage error (with a hint) if none."""
        entry = self._graders.get(name)
        if entry is None:
            raise usage_error(self.unknown(name))
        return copy.deepcopy(entry.spec)

    def unknown(self, name: str) -> str:
        """The message for a name that is not registered."""
        names = self.names()
        known = f"registered: {', '.join(names)}" if names else (
            "no grader is registered yet: define one with %%grader NAME"
        )
        return f"no grader named {name!r}{did_you_mean(name, names)} ({known})"

    def __contains__(self, name: object) -> bool:
        return name in self._graders

    def __len__(self) -> int:
        return len(self._graders)

    def __iter__(self):
        return iter(self._graders.values())
