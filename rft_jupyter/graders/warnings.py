"""The project's warning category, so users can filter rft-jupyter's advice in one line."""

from __future__ import annotations


class RftWarning(UserWarning):
    """Advice about a grader or a setting: it runs locally, but the service may differ or refuse.

    Silence with ``warnings.filterwarnings("ignore", category=RftWarning)``.
    """


__all__ = ["RftWarning"]
