"""The rules of the house (shared/ARCHITECTURE.md), checked against the source: no import circles,
libraries that know nothing of Kedro, files and functions that fit in a reading."""

from __future__ import annotations

import ast

from tests.import_graph import SOURCE, cycles, imports_of, module_files

LIBRARIES = ("gan", "metrics", "ingest", "evaluation", "packaging", "inference")
KEDRO = ("kedro", "kedro_datasets", "kedro_mlflow", "kedro_viz")
MAX_FILE_LINES, MAX_FUNCTION_LINES = 400, 60


def _third_party_imports(module: str) -> set[str]:
    tree = ast.parse(module_files()[module].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_no_import_cycles():
    assert cycles() == []


def test_libraries_import_no_kedro_and_no_pipelines():
    for module in module_files():
        if module.split(".")[1:2] and module.split(".")[1] in LIBRARIES:
            assert not _third_party_imports(module) & set(KEDRO), module
            assert not any(m.startswith("img2img.pipelines") for m in imports_of(module)), module


def test_files_and_functions_fit_in_a_reading():
    long_files, long_functions = [], []
    for path in sorted((SOURCE / "img2img").rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE_LINES:
            long_files.append(f"{path.relative_to(SOURCE)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(SOURCE)}:{node.name}: {length} lines")
    assert long_files == [] and long_functions == []
