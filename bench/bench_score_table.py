"""ScoreTable first paint with 100,000 rows: paged by the kernel vs sending the whole table.

Kernel side: the time from ``ScoreTable(result)`` to the first page's data being ready (and the
bytes it syncs), against building and serialising every row at once (the reference). Browser
side (when /usr/bin/chromium exists): a real JupyterLab in Chromium, the time from running the
cell to the first row painted, for the paged table and for the whole table in one widget. Prints
each time and the ratio reference / paged. Target: first page painted in < 1 s. Nothing is
asserted. Run: ``.venv/bin/python bench/bench_score_table.py [--rows N] [--no-browser]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

TARGET_S = 1.0
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.answer }}",
    "operation": "eq",
    "pass_threshold": 1,
}
SETUP = """
import random
import pandas as pd
import rft_jupyter as rft
from rft_jupyter.widgets import ScoreTable

rng = random.Random(0)
n = {rows}
df = pd.DataFrame({{
    "question": [f"what is {{i}} + {{i}}?" for i in range(n)],
    "answer": [str(2 * i) if i % 50 else None for i in range(n)],
    "output_text": [str(2 * i) if rng.random() < 0.7 else str(i) for i in range(n)],
}})
result = rft.grade({grader}, df, progress=False)
len(result)
"""


def build(rows: int):
    import rft_jupyter as rft

    namespace: dict = {}
    exec(SETUP.format(rows=rows, grader=GRADER), namespace)  # the notebook's own setup code
    result = namespace["result"]
    assert len(result) == rows and isinstance(result, rft.GradeResult)
    return result


def kernel_side(result, repeat: int = 3) -> tuple[float, float, int, int]:
    """(paged seconds, whole-table seconds, paged bytes, whole-table bytes)."""
    from rft_jupyter.widgets import ScoreTable

    paged, whole = [], []
    paged_bytes = whole_bytes = 0
    for _ in range(repeat):
        start = time.perf_counter()
        table = ScoreTable(result)
        paged_bytes = len(json.dumps({"meta": table.meta, "view": table.view}))
        paged.append(time.perf_counter() - start)
        table.close()
        start = time.perf_counter()
        table = ScoreTable(result, page_size=len(result))  # every row in one message
        whole_bytes = len(json.dumps({"meta": table.meta, "view": table.view}))
        whole.append(time.perf_counter() - start)
        table.close()
    return statistics.median(paged), statistics.median(whole), paged_bytes, whole_bytes


PAINT_WATCH = """(index) => new Promise((resolve) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  const start = Date.now();
  const seen = () => cell.node.querySelector('tr.rft-st-row');
  const done = () => requestAnimationFrame(() => setTimeout(() => resolve(Date.now() - start)));
  const observer = new MutationObserver(() => { if (seen()) { observer.disconnect(); done(); } });
  observer.observe(cell.node, {subtree: true, childList: true});
  const nb = window.jupyterapp.shell.currentWidget.content;
  nb.activeCellIndex = index;
  window.jupyterapp.commands.execute('notebook:run-cell');
})"""


def browser_side(rows: int, timeout_s: float) -> tuple[float, float | None] | None:
    """(paged paint seconds, whole-table paint seconds or None on timeout), or None."""
    from labdriver import Lab, Notebook, chromium_path, launch_chromium

    if chromium_path() is None:
        print("browser: skipped (no /usr/bin/chromium; make system-deps installs it)")
        return None
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp)).start()
        try:
            lab.write_notebook("bench.ipynb", [
                SETUP.format(rows=rows, grader=GRADER),
                "ScoreTable(result)",
                "ScoreTable(result, page_size=len(result))",
            ])
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                nb = Notebook(lab, page).open("bench.ipynb")
                page.evaluate("""() => {
                  const nb = window.jupyterapp.shell.currentWidget.content;
                  nb.activeCellIndex = 0;
                  return window.jupyterapp.commands.execute('notebook:run-cell');
                }""")
                page.wait_for_function(
                    "() => window.jupyterapp.shell.currentWidget.content.widgets[0]"
                    ".model.executionCount !== null && window.jupyterapp.shell.currentWidget"
                    ".sessionContext.session.kernel.status === 'idle'",
                    timeout=300_000, polling=200,
                )
                paged = page.evaluate(PAINT_WATCH, 1) / 1000
                assert not nb.errors(), nb.errors()
                page.set_default_timeout(timeout_s * 1000)
                try:
                    whole = page.evaluate(
                        f"(i) => Promise.race([({PAINT_WATCH})(i), new Promise((r) => "
                        f"setTimeout(() => r(null), {int(timeout_s * 1000)}))])", 2)
                    whole = None if whole is None else whole / 1000
                except PlaywrightTimeout:
                    whole = None
                browser.close()
        finally:
            lab.stop()
    return paged, whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for the whole table to paint")
    args = parser.parse_args()

    start = time.perf_counter()
    result = build(args.rows)
    print(f"setup: graded {args.rows:,} rows in {time.perf_counter() - start:.1f} s")
    paged, whole, paged_bytes, whole_bytes = kernel_side(result)
    print(f"kernel: first page ready {paged * 1000:.0f} ms ({paged_bytes / 1e3:,.0f} kB); "
          f"whole table {whole * 1000:.0f} ms ({whole_bytes / 1e6:,.1f} MB); "
          f"ratio {whole / paged:.1f}x")
    if args.no_browser:
        return
    measured = browser_side(args.rows, args.timeout)
    if measured is None:
        return
    paint, whole_paint = measured
    verdict = "ok" if paint < TARGET_S else "SLOWER than target"
    print(f"browser: first page painted {paint * 1000:.0f} ms after running the cell "
          f"(target < {TARGET_S:.0f} s: {verdict})")
    if whole_paint is None:
        print(f"browser: whole table did not paint within {args.timeout:.0f} s; "
              f"ratio > {args.timeout / paint:.0f}x")
    else:
        print(f"browser: whole table painted {whole_paint:.1f} s; ratio {whole_paint / paint:.1f}x")


if __name__ == "__main__":
    main()
