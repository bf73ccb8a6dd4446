"""The import-layer contracts hold, and would catch a core module reaching upwards."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="lint-imports is a dev dependency")


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=src.parent, env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120, check=False)


def test_the_tree_keeps_its_layers(tmp_path: Path) -> None:
    tree = tmp_path / "src"
    shutil.copytree(ROOT / "src", tree)
    result = _lint(tree)
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


def test_a_core_module_importing_the_web_layer_breaks_the_contract(tmp_path: Path) -> None:
    tree = tmp_path / "src"
    shutil.copytree(ROOT / "src", tree)
    decide = tree / "personvern" / "consent" / "decide.py"
    decide.write_text(decide.read_text() + "\nimport personvern.web.portal  # noqa\n")
    result = _lint(tree)
    assert result.returncode == 1
    assert "personvern.consent is not allowed to import personvern.web" in result.stdout
    assert "personvern.consent.decide -> personvern.web.portal" in result.stdout
