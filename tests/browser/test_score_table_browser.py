"""The ScoreTable in a real JupyterLab: renders, sorts, filters, pages and expands by clicks."""

from __future__ import annotations

import re

import pytest

import rft_jupyter

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

EXTENSION = "rft_jupyter" if hasattr(rft_jupyter, "load_ipython_extension") else \
    "rft_jupyter.magics"
ROWS = 300

CELLS = [
    f"""%load_ext {EXTENSION}
import random
import pandas as pd

rng = random.Random(7)
cities = ["Paris", "Rome", "Madrid", "Berlin", "Lisbon"]
answers = [rng.choice(cities) for _ in range({ROWS})]
df = pd.DataFrame({{
    "question": [f"capital #{{i}}?" for i in range({ROWS})],
    "answer": [a if i % 15 else None for i, a in enumerate(answers)],
    "output": [a if rng.random() < 0.6 else rng.choice(cities + ["Pari", "Berln"])
               for a in answers],
}})""",
    """%%grader combo
type: multi
graders:
  exact: {type: string_check, name: exact, operation: eq,
          input: "{{ sample.output_text }}", reference: "{{ item.answer }}"}
  close: {type: text_similarity, name: close, evaluation_metric: fuzzy_match,
          input: "{{ sample.output_text }}", reference: "{{ item.answer }}"}
calculate_output: 0.5 * exact + 0.5 * close
pass_threshold: 0.75""",
    "%grade combo df --sample output",
]


def rewards(table) -> list[float]:
    return [float(t) for t in table.locator("tr.rft-st-row td[data-key='reward']")
            .all_inner_texts()]


def test_score_table_renders_sorts_filters_and_expands(lab, notebook, page):
    lab.write_notebook("score_table.ipynb", CELLS)
    notebook.open("score_table.ipynb").run_all(timeout=60)
    table = page.locator(".rft-st").first
    table.wait_for(state="visible")
    assert notebook.errors() == []

    # one page of rows, the summary above it
    rows = table.locator("tr.rft-st-row")
    assert rows.count() == 25
    assert "mean reward" in table.locator(".rft-st-cards").inner_text()
    assert table.locator(".rft-st-hist rect").count() == 20
    count = table.locator(".rft-st-count")
    assert count.inner_text().startswith(f"rows 1–25 of {ROWS}")
    notebook.screenshot(table, "score_table_light")

    # sort by reward: ascending, then descending (the kernel sorts, the browser redraws)
    header = table.locator("th[data-key='reward'] button")
    header.click()
    page.wait_for_function(
        "() => document.querySelector(\".rft-st th[data-key='reward']\").textContent.includes('▲')")
    page.wait_for_function("() => !document.querySelector('.rft-st-busy')")
    up = rewards(table)
    assert up == sorted(up)
    header.click()
    page.wait_for_function(
        "() => document.querySelector(\".rft-st th[data-key='reward']\").textContent.includes('▼')")
    page.wait_for_function("() => !document.querySelector('.rft-st-busy')")
    down = rewards(table)
    assert down == sorted(down, reverse=True) and down[0] == 1.0

    # next page
    table.locator("button.rft-st-next").click()
    page.wait_for_function(
        "() => document.querySelector('.rft-st-count').textContent.startsWith('rows 26–50')")

    # filter: unscored rows only (items without an answer), through the status select
    table.locator("select[aria-label='status']").select_option("__any__")
    page.wait_for_function(
        "() => document.querySelector('.rft-st-count').textContent.includes('filtered from')")
    page.wait_for_function("() => !document.querySelector('.rft-st-busy')")
    assert re.match(rf"rows 1–20 of 20 \(filtered from {ROWS}\)", count.inner_text())
    statuses = table.locator("tr.rft-st-row td[data-key='status']").all_inner_texts()
    assert statuses and all(s == "unscored (invalid_variable_error)" for s in statuses)

    # text search narrows it further
    table.locator("input.rft-st-search").fill("capital #15?")
    page.wait_for_function(
        "() => document.querySelector('.rft-st-count').textContent.startsWith('rows 1–1 of 1')")

    # click the row: everything the grader saw appears below it
    assert table.locator(".rft-st-detail-row").count() == 0
    table.locator("tr.rft-st-row").first.click()
    detail = table.locator(".rft-st-detail")
    page.wait_for_function(
        "() => (document.querySelector('.rft-st-detail') || {}).textContent?.includes('item')")
    text = detail.inner_text()
    assert "unscored: invalid_variable_error" in text.lower()
    assert "capital #15?" in text and "no key 'answer'" in text
    notebook.screenshot(table, "score_table_expanded")

    # clear the filters and expand a scored row: its rendered templates
    table.locator("button", has_text="clear filters").click()
    page.wait_for_function(
        f"() => document.querySelector('.rft-st-count').textContent.endsWith('of {ROWS}')")
    table.locator("tr.rft-st-row").nth(1).click()
    page.wait_for_function(
        "() => (document.querySelector('.rft-st-detail') || {}).textContent"
        "?.toLowerCase().includes('rendered templates')")
    assert "exact.reference" in detail.inner_text()

    # theme-aware: the dark theme changes the table's colours
    light = table.evaluate("e => getComputedStyle(e).backgroundColor")
    notebook.command("apputils:change-theme", {"theme": "JupyterLab Dark"})
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'",
                           timeout=30_000)
    page.wait_for_function("() => !document.querySelector('#jupyterlab-splash')")
    page.wait_for_function(
        f"() => getComputedStyle(document.querySelector('.rft-st')).backgroundColor !== "
        f"'{light}'")
    notebook.screenshot(table, "score_table_dark")
    notebook.command("apputils:change-theme", {"theme": "JupyterLab Light"})
