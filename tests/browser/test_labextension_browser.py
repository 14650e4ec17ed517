"""The labextension in a real JupyterLab: active, %%grader cells highlighted, saved results
rendered (and sortable) with no kernel at all, the insert-grader command, and its settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from labdriver import ARTIFACTS
from nbclient import NotebookClient

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from labext_payloads import job_events  # noqa: E402

ROWS = 30
SAVED_CELLS = [
    "%load_ext rft_jupyter\nimport pandas as pd\nimport rft_jupyter as rft",
    f"""cities = ["Paris", "Rome", "Madrid", "Berlin", "Lisbon"]
df = pd.DataFrame({{
    "answer": [cities[i % 5] if i % 7 else None for i in range({ROWS})],
    "output": [cities[(i * 3) % 5] if i % 2 else cities[i % 5] for i in range({ROWS})],
}})""",
    """%%grader exact
{"type": "string_check", "input": "{{ sample.output_text }}",
 "reference": "{{ item.answer }}", "operation": "eq"}""",
    "%grade exact df --sample output",
    """%%grader close
type: text_similarity
input: "{{ sample.output_text }}"
reference: "{{ item.answer }}"
evaluation_metric: fuzzy_match""",
    """job = rft.jobs.replay("events.jsonl")
monitor = rft.JobMonitor(job)
monitor.freeze()
monitor""",
    'meta = {"type": "string_check"}',
    # still running when the notebook is saved (nbclient stops the kernel after the last cell)
    """slow = rft.jobs.replay("events.jsonl", speed=1)
rft.JobMonitor(slow)""",
]
SETTINGS = Path("rft-jupyter") / "plugin.jupyterlab-settings"
ACTIVE = "() => window.jupyterapp && window.jupyterapp.isPluginActivated('rft-jupyter:plugin')"


@pytest.fixture(scope="module")
def saved(lab) -> str:
    """A notebook executed headless by nbclient and saved with its outputs."""
    (lab.root / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in job_events()))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in SAVED_CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(lab.root)}}).execute()
    nbformat.write(nb, lab.root / "saved_results.ipynb")
    return "saved_results.ipynb"


def open_without_kernel(lab, page, name: str) -> None:
    """Open a notebook while the server refuses to start any kernel."""
    def refuse(route):
        if route.request.method == "POST":
            route.abort()
        else:
            route.continue_()

    page.route("**/api/sessions**", refuse)
    page.route("**/api/kernels**", refuse)
    page.goto(lab.lab_url(name, reset=True))
    page.wait_for_function(ACTIVE, timeout=60_000)
    page.locator(".jp-NotebookPanel").first.wait_for()
    # JupyterLab says it could not start a kernel: acknowledge (a real user would too)
    dialog = page.locator(".jp-Dialog")
    dialog.first.wait_for(timeout=30_000)
    while dialog.count():
        dialog.first.locator(".jp-Dialog-button").last.click()
        page.wait_for_timeout(500)


def cell(page, i: int):
    c = page.locator(".jp-Notebook .jp-Cell").nth(i)
    c.scroll_into_view_if_needed()
    return c


def token_color(c, text: str) -> str:
    """The colour of the innermost editor span whose text is exactly ``text``."""
    return c.locator(".cm-content").evaluate(
        """(root, text) => {
          const spans = [...root.querySelectorAll('span')].filter(s => s.textContent === text);
          const span = spans.find(s => !s.querySelector('span')) || spans[0];
          return span ? getComputedStyle(span).color : null;
        }""",
        text,
    )


def saved_rewards(table) -> list[float]:
    return [float(t) for t in
            table.locator("tbody tr:not(.rft-saved-detail) td[data-kind='number']")
            .all_inner_texts()]


def test_saved_results_render_and_sort_with_no_kernel(lab, saved, page, notebook):
    saved_nb = json.loads((lab.root / saved).read_text())
    payload = saved_nb["cells"][3]["outputs"][0]["data"]["application/vnd.rft-jupyter.scores+json"]
    assert payload["total"] == len(payload["rows"]) == ROWS

    open_without_kernel(lab, page, saved)
    table = cell(page, 3).locator(".rft-saved-scores")
    table.wait_for(state="visible", timeout=30_000)
    assert lab.api("GET", "/api/kernels") == []
    assert table.locator("tbody tr").count() == ROWS
    assert "mean reward" in table.locator(".rft-saved-cards").inner_text()
    assert "unscored (invalid_variable_error)" in table.inner_text()
    assert notebook.errors() == []

    header = table.locator("th[data-key='reward'] button")
    header.click()
    up = saved_rewards(table)
    assert len(up) == ROWS and up == sorted(up) and up[0] < up[-1]
    assert table.locator("th[data-key='reward']").get_attribute("aria-sort") == "ascending"
    header.click()
    down = saved_rewards(table)
    assert down == sorted(up, reverse=True)
    table.locator(".rft-saved-filter").fill("Madrid")
    assert 0 < table.locator("tbody tr").count() < ROWS
    notebook.screenshot(table, "labext_saved_scores")

    job = cell(page, 5).locator(".rft-saved-job")
    job.wait_for(state="visible", timeout=30_000)
    assert "succeeded" in job.inner_text()
    titles = job.locator(".rft-saved-chart-title").all_inner_texts()
    assert titles[0] == "Reward" and len(titles) >= 2
    assert job.locator(".rft-saved-chart").first.locator("path.rft-line").count() >= 2
    job.locator(".rft-saved-chart svg").first.hover()
    assert job.locator(".rft-saved-readout").first.inner_text().startswith("step ")
    notebook.screenshot(job, "labext_saved_job")

    # a monitor saved while its job ran: the snapshot taken when it was shown, not an error
    running = cell(page, 7).locator(".rft-saved-job")
    running.wait_for(state="visible", timeout=30_000)
    assert "status running" in running.locator(".rft-saved-title").inner_text()
    assert notebook.errors() == []


def test_live_widget_takes_over_and_hands_back_when_the_kernel_goes(lab, saved, page, notebook):
    notebook.open(saved, reset=True).run_all(timeout=90)
    out = cell(page, 3)
    live = out.locator(".rft-st")
    live.wait_for(state="visible", timeout=30_000)
    assert out.locator(".rft-saved-scores").is_hidden()  # drawn first, then handed over
    assert notebook.errors() == []

    # the kernel restarts (what Kernel > Restart does, minus the dialog): its widget models
    # are gone, the saved table comes back
    page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
    out.locator(".rft-saved-scores").wait_for(state="visible", timeout=30_000)
    assert out.locator(".rft-saved-scores tbody tr").count() == ROWS

    notebook.command("apputils:change-theme", {"theme": "JupyterLab Dark"})
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(500)
    notebook.screenshot(out.locator(".rft-saved-scores"), "labext_saved_scores_dark")
    notebook.command("apputils:change-theme", {"theme": "JupyterLab Light"})
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")


def test_grader_cells_are_highlighted(lab, saved, page):
    open_without_kernel(lab, page, saved)
    json_cell, yaml_cell, python_cell = cell(page, 2), cell(page, 4), cell(page, 6)
    json_cell.locator(".cm-rft-template-variable").first.wait_for(timeout=30_000)
    assert json_cell.locator(".cm-rft-grader-magic").inner_text() == "%%grader exact"
    assert json_cell.locator(".cm-rft-template-variable").all_inner_texts() == [
        "{{ sample.output_text }}", "{{ item.answer }}"]
    assert yaml_cell.locator(".cm-rft-template-variable").count() == 2
    # JSON reads "type" as a property name; Python (a plain cell) as a string
    python_string = token_color(python_cell, '"type"')
    assert python_string is not None
    json_property = token_color(json_cell, '"type"')
    assert json_property is not None and json_property != python_string
    assert token_color(json_cell, '"string_check"') == python_string  # a string either way
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    json_cell.locator(".jp-InputArea").screenshot(path=str(ARTIFACTS / "labext_highlight_json.png"))
    yaml_cell.locator(".jp-InputArea").screenshot(path=str(ARTIFACTS / "labext_highlight_yaml.png"))


def test_insert_command_from_the_toolbar_and_the_palette(lab, notebook, page):
    lab.write_notebook("insert.ipynb", [""])
    notebook.open("insert.ipynb", reset=True)
    page.wait_for_function(ACTIVE)
    page.locator(".jp-NotebookPanel:visible .rft-insert-grader-button").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    options = dialog.locator("select option").all_inner_texts()
    assert len(options) == 7 and options[4].startswith("python:")
    dialog.locator("select").select_option(label=options[4])
    dialog.locator(".jp-mod-accept").click()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.widgets.length === 2")
    notebook.command("rft-jupyter:insert-grader", {"type": "multi"})
    sources = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.widgets"
        ".map(c => c.model.sharedModel.getSource())")
    assert sources[0] == "%load_ext rft_jupyter"
    assert sources[1].startswith("%%grader python_check\n") and "def grade(sample, item)" in \
        sources[1]
    assert sources[2].startswith("%%grader combined\n{")
    assert len(sources) == 3
    notebook.run_all(timeout=60)
    text = page.locator(".jp-Notebook").inner_text()
    assert "grader 'python_check' registered" in text
    assert "grader 'combined' registered" in text
    assert notebook.errors() == []
    combined = cell(page, 2)
    assert combined.locator(".cm-rft-template-variable").count() == 4


SET_SETTING = """async ([key, value]) => {
  // the settings registry as JupyterLab's own plugins get it (test-only: a private field)
  const plugin = window.jupyterapp.pluginRegistry._plugins.get(
    '@jupyterlab/apputils-extension:settings');
  await plugin.service.set('rft-jupyter:plugin', key, value);
}"""


def test_settings_apply_to_open_notebooks(lab, saved, page):
    open_without_kernel(lab, page, saved)
    json_cell = cell(page, 2)
    json_cell.locator(".cm-rft-grader-magic").wait_for(timeout=30_000)
    button = page.locator(".jp-NotebookPanel:visible .rft-insert-grader-button")
    assert button.count() == 1
    page.evaluate(SET_SETTING, ["highlighting", False])
    json_cell.locator(".cm-rft-grader-magic").wait_for(state="detached", timeout=10_000)
    assert json_cell.locator(".cm-rft-template-variable").count() == 0
    page.evaluate(SET_SETTING, ["insertCommand", False])
    button.wait_for(state="detached", timeout=10_000)
    page.evaluate(SET_SETTING, ["highlighting", True])
    page.evaluate(SET_SETTING, ["insertCommand", True])
    json_cell.locator(".cm-rft-grader-magic").wait_for(timeout=10_000)
    button.wait_for(timeout=10_000)


def test_settings_turn_each_feature_off(lab, saved, page, notebook):
    path = lab.base / "settings" / SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"highlighting": False, "renderSavedResults": False,
                                "insertCommand": False}))
    try:
        open_without_kernel(lab, page, saved)
        table_cell = cell(page, 3)
        table_cell.locator(".jp-OutputArea-output").first.wait_for(timeout=30_000)
        page.wait_for_timeout(1000)  # let every output and editor settle
        assert table_cell.locator(".rft-saved-scores").count() == 0
        assert "exact" in table_cell.locator(".jp-OutputArea-output").first.inner_text()
        assert cell(page, 2).locator(".cm-rft-grader-magic").count() == 0
        assert page.locator(".rft-insert-grader-button").count() == 0
        assert page.evaluate(
            "() => window.jupyterapp.commands.isVisible('rft-jupyter:insert-grader')") is False
    finally:
        path.unlink()
