"""The "answer with sevens" task the local GRPO tests and tutorial 04 train on: a multigrader a
tiny model can learn to please within 60 steps, and rows asking for it."""

from __future__ import annotations

GRADER = {
    "type": "multi",
    "name": "sevens",
    "graders": {
        "has7": {"type": "string_check", "name": "has7", "operation": "like",
                 "input": "{{ sample.output_text }}", "reference": "7"},
        "close": {"type": "text_similarity", "name": "close", "evaluation_metric": "fuzzy_match",
                  "input": "{{ sample.output_text }}", "reference": "{{ item.target }}"},
    },
    "calculate_output": "0.5 * has7 + 0.5 * close",
}


def rows(n: int, offset: int = 0) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"What is {(i + offset) % 7} + "
                           f"{(i + offset) % 5}? Answer with digits:"}],
             "target": "7777777777"} for i in range(n)]
