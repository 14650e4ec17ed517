"""The service's python-grader image: which top-level modules a grader may import there."""

from __future__ import annotations

import ast
import sys

IMAGE_TAG = "2025-05-08"

# service-facts §5 (DOC): the packages of image 2025-05-08, by import name.
IMAGE_PACKAGES = {
    "numpy": "numpy 2.2.4",
    "scipy": "scipy 1.15.2",
    "sympy": "sympy 1.13.3",
    "pandas": "pandas 2.2.3",
    "rapidfuzz": "rapidfuzz 3.10.1",
    "sklearn": "scikit-learn 1.6.1",
    "rouge_score": "rouge-score 0.1.2",
    "deepdiff": "deepdiff 8.4.2",
    "jsonschema": "jsonschema 4.23.0",
    "pydantic": "pydantic 2.10.6",
    "yaml": "pyyaml 6.0.2",
    "nltk": "nltk 3.9.1",
    "sqlparse": "sqlparse 0.5.3",
    "rdkit": "rdkit 2024.9.6",
    "skbio": "scikit-bio 0.6.3",
    "ast_grep_py": "ast-grep-py 0.36.2",
}

# INF: installed with those packages as their dependencies (PyPI metadata), so present too.
IMAGE_DEPENDENCIES = frozenset({
    "mpmath",  # sympy
    "dateutil", "pytz", "tzdata", "six",  # pandas
    "joblib", "threadpoolctl",  # scikit-learn
    "absl",  # rouge-score
    "regex", "click", "tqdm",  # nltk
    "attr", "attrs", "referencing", "rpds", "jsonschema_specifications",  # jsonschema
    "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection",  # pydantic
    "orderly_set",  # deepdiff
    "PIL",  # rdkit
    "requests", "urllib3", "idna", "certifi", "charset_normalizer", "decorator", "natsort",
    "h5py", "biom", "statsmodels", "patsy", "array_api_compat", "packaging",  # scikit-bio
})


def imported_modules(source: str) -> list[str]:
    """Top-level modules ``source`` imports (import statements, ``__import__("x")`` and
    ``importlib.import_module("x")`` with a literal name), in order of first appearance."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.setdefault(alias.name.split(".")[0], None)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.setdefault(node.module.split(".")[0], None)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called in ("__import__", "import_module") and isinstance(node.args[0].value, str):
                names.setdefault(node.args[0].value.split(".")[0], None)
    return list(names)


def missing_from_image(source: str) -> list[str]:
    """Modules ``source`` imports that the service's image does not have."""
    known = set(sys.stdlib_module_names) | set(IMAGE_PACKAGES) | IMAGE_DEPENDENCIES
    return [name for name in imported_modules(source) if name and name not in known]
