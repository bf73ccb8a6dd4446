"""Manifest templates for ``personvern init``: a blank starter and the seed examples."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from personvern.errors import NotFound

EXAMPLES = ("snapmentor", "vekstly", "lillemini", "minmentor", "teoritentamen")


def examples_dir() -> Path:
    """The example manifests: packaged in a wheel, or ``examples/`` in a source checkout."""
    packaged = Path(str(files("personvern"))) / "examples"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "examples"


def template_text(name: str) -> str:
    """The text of template ``name`` ("blank" or an example's name)."""
    if name == "blank":
        return (Path(__file__).parent / "blank.yaml").read_text(encoding="utf-8")
    if name not in EXAMPLES:
        raise NotFound(f"unknown template {name!r}; choose blank, {', '.join(EXAMPLES)}")
    return (examples_dir() / f"{name}.yaml").read_text(encoding="utf-8")
