"""The magics through a real IPython InteractiveShell, and the tour notebook through nbclient."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import rft_jupyter
from rft_jupyter.analysis import ProbeReport
from rft_jupyter.data import DatasetReport
from rft_jupyter.graders.result import GradeResult
from rft_jupyter.magics.registry import GraderRegistry

HOOK = hasattr(rft_jupyter, "load_ipython_extension")
# ``%load_ext rft_jupyter`` needs the hook in rft_jupyter/__init__.py; until it is there the
# magics load as ``rft_jupyter.magics``.
EXTENSION = "rft_jupyter" if HOOK else "rft_jupyter.magics"
TOUR = Path(__file__).parent / "notebooks" / "magics_tour.ipynb"

EXACT_JSON = """{
  "type": "string_check",
  "input": "{{ sample.output_text }}",
  "reference": "{{ item.answer }}",
  "operation": "eq",
  "pass_threshold": 1
}"""
FUZZY_YAML = """type: text_similarity
input: "{{ sample.output_text }}"
reference: "{{ item.answer }}"
evaluation_metric: fuzzy_match
"""


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    config = Config()
    config.HistoryAccessor.enabled = False
    return InteractiveShell.instance(config=config)


@pytest.fixture
def ip(shell, tmp_path, monkeypatch):
    """The shell with the extension freshly loaded, a DataFrame ``df``, in an empty folder."""
    monkeypatch.chdir(tmp_path)
    shell.config.pop("RftMagics", None)  # settings made with %config by an earlier test
    manager = shell.extension_manager
    for name in ("rft_jupyter", "rft_jupyter.magics"):
        if name in manager.loaded:
            manager.unload_extension(name)
    shell.run_line_magic("load_ext", EXTENSION)
    magics(shell).graders = GraderRegistry()  # graders survive %reload_ext: start empty
    shell.user_ns["df"] = pd.DataFrame(
        {
            "question": ["capital of France?", "2+2?", "colour of the sky?", "largest planet?"],
            "answer": ["Paris", "4", "blue", None],
            "model": ["Paris", "5", "Blue", "Saturn"],
        }
    )
    yield shell
    manager.unload_extension(EXTENSION)
    for name in ("df", "res", "out", "g", "report", "rows"):
        shell.user_ns.pop(name, None)


def define(ip, name: str, body: str, line: str = "") -> None:
    ip.run_cell_magic("grader", f"{name} {line}".strip(), body)


def magics(ip):
    return ip.magics_manager.registry["RftMagics"]


# ---------------------------------------------------------------- loading


def test_load_ext_is_lazy():
    code = textwrap.dedent(
        f"""
        import sys, time
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        start = time.perf_counter()
        ip.run_line_magic("load_ext", "{EXTENSION}")
        took = time.perf_counter() - start
        heavy = [m for m in ("pandas", "numpy", "ipywidgets", "anywidget", "yaml", "openai")
                 if m in sys.modules]
        print(f"{{took:.3f}}", ",".join(heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent)
    took, heavy = (out.stdout.strip().split(" ") + [""])[:2]
    print(f"%load_ext {EXTENSION}: {took} s")  # measured, not asserted
    assert heavy == "", f"loading imported {heavy}"


@pytest.mark.skipif(not HOOK, reason="rft_jupyter/__init__.py has no load_ipython_extension "
                    "hook yet (the lead adds it)")
def test_load_ext_of_the_package(shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shell.extension_manager.unload_extension("rft_jupyter")
    assert shell.run_line_magic("load_ext", "rft_jupyter") is None
    assert "grade" in shell.magics_manager.magics["line"]


def test_reload_keeps_graders_and_unload_removes_the_magics(ip):
    define(ip, "exact", EXACT_JSON)
    ip.run_line_magic("reload_ext", EXTENSION)
    assert "exact" in magics(ip).graders
    ip.extension_manager.unload_extension(EXTENSION)
    assert "grade" not in ip.magics_manager.magics["line"]
    assert "grader" not in ip.magics_manager.magics["cell"]
    ip.run_line_magic("load_ext", EXTENSION)


# ---------------------------------------------------------------- %%grader


def test_grader_cell_registers_and_summarises(ip, capsys):
    define(ip, "exact", EXACT_JSON)
    define(ip, "fuzzy", FUZZY_YAML)
    out = capsys.readouterr().out
    assert "grader 'exact' registered: string_check (eq), pass_threshold 1" in out
    assert "reads: sample.output_text, item.answer" in out
    assert "from a yaml body" in out
    spec = magics(ip).graders.spec("fuzzy")
    assert spec["name"] == "fuzzy" and spec["evaluation_metric"] == "fuzzy_match"


def test_python_body_becomes_a_python_grader(ip, capsys):
    source = "def grade(sample, item):\n    return float(sample['output_text'] == item['answer'])\n"
    define(ip, "py", source)
    spec = magics(ip).graders.spec("py")
    assert spec == {"type": "python", "name": "py", "source": source}
    assert "grader 'py' registered: python" in capsys.readouterr().out
    with pytest.raises(UsageError, match=r"%%grader bad: source: syntax error at line 2"):
        define(ip, "bad", "def grade(sample, item):\n    return (\n")


def test_templates_and_dollars_are_never_expanded(ip):
    ip.user_ns["answer"] = "EXPANDED"
    define(ip, "raw", '{"type": "string_check", "input": "$answer {answer}", '
                      '"reference": "{{ item.answer }}", "operation": "eq"}')
    assert magics(ip).graders.spec("raw")["input"] == "$answer {answer}"
    ip.run_cell("%%grader raw2\n"
                "type: string_check\ninput: '{{ sample.output_text }} $answer'\n"
                "reference: '{answer}'\noperation: eq\n")
    spec = magics(ip).graders.spec("raw2")
    assert spec["input"] == "{{ sample.output_text }} $answer" and spec["reference"] == "{answer}"


def test_multi_grader_names_registered_sub_graders(ip, capsys):
    define(ip, "exact", EXACT_JSON)
    define(ip, "fuzzy", FUZZY_YAML)
    define(ip, "combo", "type: multi\ngraders: {e: exact, f: fuzzy}\n"
                        "calculate_output: 0.5 * e + 0.5 * f\n")
    spec = magics(ip).graders.spec("combo")
    assert spec["graders"]["e"]["operation"] == "eq" and spec["graders"]["f"]["name"] == "fuzzy"
    define(ip, "both", "type: multi\ngraders: [exact, fuzzy]\ncalculate_output: exact * fuzzy\n")
    assert list(magics(ip).graders.spec("both")["graders"]) == ["exact", "fuzzy"]
    out = capsys.readouterr().out
    assert "grader 'combo' registered: multi = 0.5 * e + 0.5 * f" in out
    assert "  e: string_check (eq); reads sample.output_text, item.answer" in out
    with pytest.raises(UsageError, match=r"graders\.e: no grader named 'exct'; did you mean "
                                         r"'exact'\? \(registered: exact, fuzzy"):
        define(ip, "broken", "type: multi\ngraders: {e: exct}\ncalculate_output: e\n")


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ('{"type": "string_check", "input": "x" "reference": "y"}', "",
         r"invalid JSON at line 1 column 39: Expecting ',' delimiter"),
        ("type: string_check\ninput: {{ sample.output_text }}\nreference: x\n", "",
         r"invalid YAML at line 2 column 9: found unhashable key .*; quote templates in YAML"),
        ("type: text_similarity\ninput: a\nreference: b\nevaluation_metric: rouge\n", "",
         r"line 4: evaluation_metric: 'rouge' is not allowed; did you mean 'rouge_l'\?"),
        ("type: multi\ngraders:\n  a:\n    type: string_check\n    input: x\n    reference: y\n"
         "    operaton: eq\ncalculate_output: a\n", "",
         r"line 7: graders\.a\.operaton: unknown field 'operaton'; did you mean 'operation'\?"),
        ("type: strng_check\n", "", r"unknown grader type 'strng_check'; did you mean "
         r"'string_check'\?"),
        ("   \n", "", r"the cell body is empty"),
        ("- a\n- b\n", "", r"must be a grader object"),
        ("{}", "--format jsn", r"--format 'jsn' is not one of json, yaml, python; did you mean "
         r"'json'\?"),
        ("{}", "--fromat json", r"unrecognized arguments: --fromat json; did you mean "
         r"'--format'\?"),
    ],
)
def test_grader_errors_are_one_line_with_a_location(ip, body, line, message):
    with pytest.raises(UsageError, match=message) as info:
        define(ip, "g", body, line)
    assert "\n" not in str(info.value)


def test_bad_names_and_help(ip, capsys):
    with pytest.raises(UsageError, match="must be an identifier"):
        ip.run_cell_magic("grader", "my-grader", EXACT_JSON)
    ip.run_cell_magic("grader", "--help", "{}")
    assert "usage: %%grader" in capsys.readouterr().out


def test_errors_show_without_a_traceback(ip, capsys):
    result = ip.run_cell("%grade nothing df")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert err.startswith("UsageError: %grade: no grader named 'nothing'")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- %grade


def test_grade_returns_the_result_and_stores_it(ip):
    define(ip, "exact", EXACT_JSON)
    result = ip.run_line_magic("grade", "exact df --sample model -o out")
    assert isinstance(result, GradeResult)
    assert result.rewards == [1.0, 0.0, 0.0, 0.0]
    assert ip.user_ns["out"] is result
    assert result.error_counts() == {"invalid_variable_error": 1}
    ip.run_cell("res = %grade exact df --sample model --limit 2 --seed 3")
    assert len(ip.user_ns["res"]) == 2


def test_assigned_results_display_once_and_bare_ones_through_the_displayhook(ip, capsys):
    define(ip, "exact", EXACT_JSON)
    capsys.readouterr()
    ip.run_cell("res = %grade exact df --sample model")
    out = capsys.readouterr().out
    assert out.count("<GradeResult exact: 4/4 rows") == 1 and "Out[" not in out
    ip.run_cell("%grade exact df --sample model")
    out = capsys.readouterr().out
    assert out.count("<GradeResult exact: 4/4 rows") == 1 and "Out[" in out
    ip.run_cell("%grade exact df --sample model;")
    assert capsys.readouterr().out == ""
    ip.run_line_magic("config", "RftMagics.autodisplay = False")
    ip.run_cell("res = %grade exact df --sample model")
    assert capsys.readouterr().out == ""


def test_grade_reads_lists_files_and_expressions(ip, tmp_path):
    define(ip, "exact", EXACT_JSON)
    rows = [{"answer": "a", "output_text": "a"}, {"answer": "b", "output_text": "c"}]
    ip.user_ns["rows"] = rows
    assert ip.run_line_magic("grade", "exact rows").rewards == [1.0, 0.0]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert ip.run_line_magic("grade", f"exact {path}").rewards == [1.0, 0.0]
    assert len(ip.run_line_magic("grade", "exact df.head(2) --sample model")) == 2
    spec = json.loads(EXACT_JSON) | {"name": "inline"}
    ip.user_ns["g"] = spec  # a variable holding a spec works as NAME too
    assert ip.run_line_magic("grade", "g rows").rewards == [1.0, 0.0]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("exact df --sample modle",
         r"df has no sample column 'modle'; did you mean 'model'\? \(columns: question, answer, "
         r"model\)"),
        ("exact df",
         r"df has no sample column 'output_text' .*pass --sample COL or set %config "
         r"RftMagics\.sample_column"),
        ("exact dff --sample model",
         r"no variable or file named 'dff'; did you mean 'df'\? \(data variables: df\)"),
        ("exct df --sample model", r"no grader named 'exct'; did you mean 'exact'\?"),
        ("exact missing.jsonl", r"no such file: missing\.jsonl"),
        ("exact df --sample model --limit x", r"argument --limit/-n: invalid int value: 'x'"),
        ("exact df --smaple model", r"unrecognized arguments: --smaple model; did you mean "
                                    r"'--sample'\?"),
        ("exact 'df", r"No closing quotation"),
    ],
)
def test_grade_usage_errors(ip, line, message):
    define(ip, "exact", EXACT_JSON)
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic("grade", line)


def test_missing_template_columns_are_named_against_the_real_ones(ip):
    define(ip, "g", EXACT_JSON.replace("item.answer", "item.answr"))
    with pytest.raises(UsageError, match=r"grader 'g' reads \{\{ item\.answr \}\} but df has no "
                                         r"column 'answr'; did you mean 'answer'\? \(columns: "
                                         r"question, answer\)"):
        ip.run_line_magic("grade", "g df --sample model")


def test_engine_errors_are_short_unless_asked(ip):
    define(ip, "exact", EXACT_JSON)
    ip.user_ns["rows"] = [{"answer": "a", "output_text": "a"}]
    with pytest.raises(UsageError, match="%grade: limit must be >= 0"):
        ip.run_line_magic("grade", "exact rows --limit -1")
    ip.run_line_magic("config", "RftMagics.short_errors = False")
    with pytest.raises(ValueError, match="limit must be >= 0"):
        ip.run_line_magic("grade", "exact rows --limit -1")


# ---------------------------------------------------------------- settings


def test_config_settings_apply(ip, capsys):
    define(ip, "exact", EXACT_JSON)
    ip.run_line_magic("config", "RftMagics.sample_column = 'model'")
    ip.run_line_magic("config", "RftMagics.limit = 3")
    assert len(ip.run_line_magic("grade", "exact df")) == 3
    ip.run_line_magic("config", "RftMagics")
    assert "sample_column" in capsys.readouterr().out
    ip.run_line_magic("rft", "config limit=None sample_column=answer")
    assert "settings changed: limit=None, sample_column='answer'" in capsys.readouterr().out
    assert magics(ip).limit is None
    ip.run_line_magic("rft", "config")
    out = capsys.readouterr().out
    assert re.search(r"sample_column += 'answer'  \[%rft config\]", out)
    assert "engine.tokenizer" in out
    with pytest.raises(UsageError, match=r"unknown setting 'sampel_column'; did you mean "
                                         r"'sample_column'\?"):
        ip.run_line_magic("rft", "config sampel_column=x")
    with pytest.raises(UsageError, match="page_size must be between 1 and 1000"):
        ip.run_line_magic("rft", "config page_size=0")
    with pytest.raises(UsageError, match="expected NAME=VALUE"):
        ip.run_line_magic("rft", "config limit")


def test_pyproject_settings_are_found_upward(shell, tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(
        """
        [project]
        name = "mine"

        [tool.rft_jupyter]
        sample_column = "model"
        limit = 2
        sample_colum = 1

        [tool.rft_jupyter.engine]
        rouge_stemmer = true

        [tool.rft_jupyter.jobs]
        anything = "left for the jobs settings"
        """
    ))
    nested = tmp_path / "notebooks" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    from rft_jupyter.graders.settings import settings, using

    with using():  # engine settings are restored afterwards
        for name in ("rft_jupyter", "rft_jupyter.magics"):
            if name in shell.extension_manager.loaded:
                shell.extension_manager.unload_extension(name)
        shell.run_line_magic("load_ext", EXTENSION)
        captured = capsys.readouterr()
        assert "settings from" in captured.out and "sample_column='model'" in captured.out
        assert "engine.rouge_stemmer=True" in captured.out and settings().rouge_stemmer
        assert "unknown setting 'sample_colum'" in captured.err
        assert "did you mean 'sample_column'" in captured.err
        rft_magics = magics(shell)
        assert rft_magics.sample_column == "model" and rft_magics.limit == 2
        assert rft_magics.sources["sample_column"].endswith("pyproject.toml")
    shell.extension_manager.unload_extension(EXTENSION)


# ---------------------------------------------------------------- %rft


def test_bare_rft_lists_the_subcommands(ip, capsys):
    assert ip.run_line_magic("rft", "") is None
    out = capsys.readouterr().out
    for name in ("validate", "probe", "export", "list", "show", "config", "job"):
        assert f"%rft {name}" in out
    with pytest.raises(UsageError, match=r"unknown subcommand 'valdate'; did you mean "
                                         r"'validate'\?"):
        ip.run_line_magic("rft", "valdate df")
    ip.run_line_magic("rft", "help probe")
    assert "usage: %rft probe" in capsys.readouterr().out


def test_rft_validate(ip):
    define(ip, "exact", EXACT_JSON)
    ip.user_ns["rows"] = [
        {"messages": [{"role": "user", "content": "2+2?"}], "answer": "4"},
        {"messages": [{"role": "user", "content": "3+3?"}], "answr": "6"},
    ]
    report = ip.run_line_magic("rft", "validate rows --grader exact --kind valid")
    assert isinstance(report, DatasetReport) and not report.ok
    assert [p.line for p in report.errors] == [2]
    assert "item.answer" in report.errors[0].message
    assert ip.run_line_magic("rft", "validate rows").ok
    with pytest.raises(UsageError, match=r"kind must be 'train' or 'valid'"):
        ip.run_line_magic("rft", "validate rows --kind test")


def test_rft_probe_flags_a_gameable_grader(ip):
    define(ip, "loose", EXACT_JSON.replace('"eq"', '"like"'))
    report = ip.run_line_magic("rft", "probe loose df --sample model -o report")
    assert isinstance(report, ProbeReport) and ip.user_ns["report"] is report
    assert "padded_reference" in report.risky and "empty" not in report.risky
    few = ip.run_line_magic("rft", "probe loose df --sample model --kinds empty,huge_output "
                                   "--limit 2")
    assert few.kind_names == ["empty", "huge_output"] and len(few.index) == 2
    with pytest.raises(UsageError, match=r"unknown kind 'emty'; did you mean 'empty'\?"):
        ip.run_line_magic("rft", "probe loose df --kinds emty")


def test_rft_export_prints_the_api_json(ip, capsys):
    define(ip, "exact", EXACT_JSON)
    capsys.readouterr()
    ip.run_line_magic("rft", "export exact --copy g")
    printed = json.loads(capsys.readouterr().out)
    import rft_jupyter as rft

    assert printed == rft.validate_grader(json.loads(EXACT_JSON) | {"name": "exact"})["grader"]
    assert ip.user_ns["g"] == printed
    ip.run_line_magic("rft", "export exact --indent 0")
    assert capsys.readouterr().out.count("\n") == 1


def test_rft_list_and_show(ip, capsys):
    ip.run_line_magic("rft", "list")
    assert "no grader registered yet" in capsys.readouterr().out
    define(ip, "exact", EXACT_JSON)
    capsys.readouterr()
    ip.run_line_magic("rft", "list")
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "type", "reads"]
    assert out[1].split()[:3] == ["exact", "string_check", "(eq)"]
    ip.run_line_magic("rft", "show exact")
    out = capsys.readouterr().out
    assert out.startswith("grader 'exact' is: string_check (eq)") and '"operation": "eq"' in out
    with pytest.raises(UsageError, match="no grader named 'exat'; did you mean 'exact'"):
        ip.run_line_magic("rft", "show exat")


def test_rft_job_is_reserved_and_dispatches_to_its_module(ip, capsys, monkeypatch):
    with pytest.raises(UsageError, match="jobs need an OpenAI or Azure OpenAI client"):
        ip.run_line_magic("rft", "job attach ftjob-1")  # the real module, with no client
    module = types.ModuleType("rft_jupyter.magics.job")
    module.SUMMARY = "watch fine-tuning jobs"
    module.run = lambda magics, argv, local_ns: ("ran", argv)
    module.complete = lambda magics, words, current: ["attach", "create"]
    monkeypatch.setitem(sys.modules, "rft_jupyter.magics.job", module)
    assert ip.run_line_magic("rft", "job attach ftjob-1") == ("ran", ["attach", "ftjob-1"])
    ip.run_line_magic("rft", "")
    assert "watch fine-tuning jobs" in capsys.readouterr().out
    assert complete(ip, "%rft job ") == ["attach", "create"]


# ---------------------------------------------------------------- completion


def complete(ip, text: str) -> list[str]:
    with provisionalcompleter():
        return sorted(c.text for c in ip.Completer.completions(text, len(text)))


def test_tab_completion(ip):
    define(ip, "exact", EXACT_JSON)
    define(ip, "fuzzy", FUZZY_YAML)
    ip.user_ns["rows"] = [{"a": 1}]
    assert complete(ip, "%grade ") == ["exact", "fuzzy"]
    assert complete(ip, "%grade fu") == ["fuzzy"]
    assert complete(ip, "%grade exact ") == ["df", "rows"]
    assert complete(ip, "%grade exact df --sample ") == ["answer", "model", "question"]
    assert complete(ip, "%grade exact df --sa") == ["--sample"]
    assert "validate" in complete(ip, "%rft ") and complete(ip, "%rft pr") == ["probe"]
    assert complete(ip, "%rft validate df --grader ") == ["exact", "fuzzy"]
    assert complete(ip, "%rft probe exact df --kinds em") == ["empty"]
    assert complete(ip, "%rft config sample") == ["sample_column="]
    assert complete(ip, "%%grader g --format ") == ["json", "python", "yaml"]
    assert complete(ip, '%%grader g\ntype: string_check\ninput: "{{ item.q') == ["item.question"]
    assert complete(ip, '%%grader g\ninput: "{{ sample.output_te') == ["sample.output_text"]
    assert "columns" in complete(ip, "df.colu")  # ordinary completion is left alone


# ---------------------------------------------------------------- the tour notebook


@pytest.mark.timeout(240)
def test_magics_tour_notebook_runs():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(TOUR, as_version=4)
    if not HOOK:
        for cell in nb.cells:
            cell.source = cell.source.replace("%load_ext rft_jupyter\n",
                                              "%load_ext rft_jupyter.magics\n")
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(TOUR.parent)}})
    client.execute()
    by_id = {cell.get("id"): cell for cell in nb.cells}

    def text(cell_id: str) -> str:
        parts = []
        for out in by_id[cell_id].get("outputs", []):
            if out["output_type"] == "stream":
                parts.append(out["text"])
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
        return "".join(parts)

    def mimes(cell_id: str) -> set[str]:
        return {m for out in by_id[cell_id].get("outputs", []) for m in out.get("data", {})}

    def kinds(cell_id: str) -> list[str]:
        return [out["output_type"] for out in by_id[cell_id].get("outputs", [])]

    assert "grader 'exact' registered: string_check (eq)" in text("define-exact")
    assert kinds("grade") == ["execute_result"]  # shown once, by the displayhook
    assert kinds("assigned") == ["display_data", "stream"]  # res = %grade … still shows
    assert "grader 'combo' registered: multi" in text("define-multi")
    assert "<GradeResult combo: 6/6 rows" in text("grade")
    assert {"application/vnd.jupyter.widget-view+json", "text/html",
            "application/vnd.rft-jupyter.scores+json"} <= mimes("grade")
    assert "res is a GradeResult: True" in text("assigned")
    assert "UsageError: %grade: df has no sample column 'answr'" in text("error")
    assert "Traceback" not in text("error")
    assert "<ProbeReport probe of loose" in text("probe") and "RISKY" in text("probe")
    assert '"type": "multi"' in text("export") and "exported: dict" in text("export")
    assert "combo" in text("list") and "%rft validate" in text("help")
    assert "errors" in text("validate")
    assert "replay PATH" in text("job")
    assert "<Comparison exact vs combo" in text("compare")


def test_a_yaml_flow_mapping_is_not_mistaken_for_json(ip):
    define(ip, "flow", '{type: string_check, input: "{{ sample.output_text }}", '
                       'reference: "{{ item.answer }}", operation: eq}')
    assert magics(ip).graders.get("flow").body_format == "yaml"
    with pytest.raises(UsageError, match="invalid JSON at line 1 column 35: Expecting value"):
        define(ip, "broken", '{"type": "string_check", "input": }', "--format json")
