"""The install is locked: a lock that no longer matches pyproject.toml stops `make`."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"


def _copy_of_the_install(tmp_path: Path) -> Path:
    """The files `make install` reads, in a scratch directory, with our uv already there."""
    if not UV.exists():
        pytest.skip("uv is installed by `make test`; run the suite through it")
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("Makefile", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, work / name)
    shutil.copytree(ROOT / "tools", work / "tools")
    (work / ".tools" / "bin").mkdir(parents=True)
    (work / ".tools" / "bin" / "uv").symlink_to(UV)
    return work


def test_every_dependency_is_in_the_lock() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["name"] for p in lock["package"]}
    wanted = project["dependencies"] + [
        d for extra in project["optional-dependencies"].values() for d in extra]
    for requirement in wanted:
        name = requirement.split(";")[0].split("[")[0]
        for sep in "<>=!~ ":
            name = name.split(sep)[0]
        assert name.lower().replace("_", "-") in locked, requirement


def test_a_lock_that_does_not_match_pyproject_stops_the_install(tmp_path: Path) -> None:
    work = _copy_of_the_install(tmp_path)
    pyproject = work / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        '  "rich>=13",\n', '  "rich>=13",\n  "tomli-w>=1.0",\n'))
    out = subprocess.run(["make", "--no-print-directory", "install"], cwd=work,
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode != 0
    assert "uv.lock does not match pyproject.toml." in out.stderr
    assert "run 'make lock' and commit uv.lock" in out.stderr
    assert not (work / ".venv").exists(), "nothing may be installed from a stale lock"
