"""The "answer with sevens" task the local GRPO tests and tutorial 04 train on: a multigrader a
tiny model can learn to please within 60 steps, and rows asking for it. One definition: the
script that made the tutorials' recorded job (notebooks/data/make_replay_log.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks" / "data"))
try:
    from make_replay_log import GRADER, rows
finally:
    sys.path.pop(0)

__all__ = ["GRADER", "rows"]
