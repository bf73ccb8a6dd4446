"""How modules import each other: no private names across packages, no hidden cycles."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
# The entry points import the core inside functions for start-up time, as their package
# docstrings say; below them, a function-local import must say why it is there.
EDGES = {"cli", "web", "jobs", "demo", "runtime", "schema"}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted((SRC / "personvern").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append((name, path))
    return out


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_module_imports_another_packages_private_names() -> None:
    found = []
    for name, path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("personvern"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private and _package(node.module or "") != _package(name):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {private}")
    assert found == []


def test_function_local_imports_in_the_core_say_why() -> None:
    unexplained = []
    for name, path in _modules():
        if name.split(".")[1:2] and name.split(".")[1] in EDGES:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    module = node.module if isinstance(node, ast.ImportFrom) \
                        else node.names[0].name
                    around = lines[max(0, node.lineno - 3):node.lineno]
                    if (module or "").startswith("personvern") and \
                            not any("#" in line for line in around):
                        unexplained.append(f"{path.relative_to(SRC)}:{node.lineno}: {module}")
    assert unexplained == []


_EACH_FIRST = """
import importlib, sys
failed = []
for module in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "personvern" or m.startswith("personvern.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(module)
    except Exception as exc:
        failed.append(f"{module}: {exc!r}")
print("\\n".join(failed))
"""


def test_every_module_imports_first_without_a_cycle() -> None:
    """Each module imported first (the package forgotten in between), so a cycle cannot
    hide behind the order in which the rest of the code happens to import things."""
    result = subprocess.run([sys.executable, "-c", _EACH_FIRST, *(n for n, _ in _modules())],
                            capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.strip() == ""


def test_no_top_level_function_or_class_goes_unused() -> None:
    """Dead code misleads the next reader: every undecorated top-level function or class
    is named somewhere else (code, tests, benchmarks or templates)."""
    root = SRC.parent
    words = Counter(re.findall(r"\w+", "\n".join(
        p.read_text(encoding="utf-8") for folder in ("src", "tests", "benchmarks")
        for p in (root / folder).rglob("*") if p.suffix in (".py", ".html"))))
    unused = [
        f"{path.relative_to(SRC)}:{node.lineno}: {node.name}"
        for _, path in _modules() for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and not node.decorator_list and not node.name.startswith("__")
        and words[node.name] <= 1]
    assert unused == []
