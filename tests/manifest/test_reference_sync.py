"""docs/manifest.md is generated from the schema models and must not drift from them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from personvern.check.engine import has_errors, run_checks
from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.manifest.loader import parse_manifest
from personvern.manifest.reference import (
    DESCRIPTIONS,
    EXAMPLE,
    description,
    models_in_order,
    render_reference,
    title,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "manifest.md"
MODELS = models_in_order()


def _section(doc: str, model: type[BaseModel]) -> str:
    """The text of ``model``'s section: from its heading to the next one."""
    start = doc.index(f"\n## {title(model)}\n")
    end = doc.find("\n## ", start + 1)
    return doc[start:] if end == -1 else doc[start:end]


def test_docs_manifest_md_is_up_to_date() -> None:
    written = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert written == render_reference(), (
        "docs/manifest.md is out of date with the manifest models; run `make docs`"
    )


def test_module_writes_the_same_text_as_utf8() -> None:
    child = subprocess.run(
        [sys.executable, "-m", "personvern.manifest.reference"],
        capture_output=True, timeout=60, check=True,
    )
    assert child.stdout.decode("utf-8") == render_reference()


def test_manifest_comes_first_and_every_nested_model_once() -> None:
    assert MODELS[0].__name__ == "Manifest"
    assert len({m.__name__ for m in MODELS}) == len(MODELS)
    names = {m.__name__ for m in MODELS}
    assert {"Purpose", "RetentionRule", "Recipient", "Contact", "Column"} <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_of_every_model_is_documented(model: type[BaseModel]) -> None:
    section = _section(render_reference(), model)
    for name in model.model_fields:
        assert f"\n| `{name}` |" in section, f"{model.__name__}.{name} missing from its table"
        assert description(model, name), (
            f"{model.__name__}.{name} has no description: give it Field(description=...) in "
            "model.py, or an entry in DESCRIPTIONS in personvern/manifest/reference.py"
        )


def test_descriptions_table_has_no_stale_entries() -> None:
    models = {m.__name__: m for m in MODELS}
    for key in DESCRIPTIONS:
        model_name, field = key.split(".")
        assert model_name in models and field in models[model_name].model_fields, (
            f"DESCRIPTIONS[{key!r}] names no field of the manifest"
        )
        assert not models[model_name].model_fields[field].description, (
            f"{key} now has a description in model.py; remove it from DESCRIPTIONS"
        )


def test_every_builtin_category_is_listed() -> None:
    doc = render_reference()
    for key, category in BUILTIN_CATEGORIES.items():
        assert f"| `{key}` | {category.nb} | {category.en} |" in doc


def test_intro_explains_texts_and_durations() -> None:
    doc = render_reference()
    for written in ("2 years", "6 months", "3 years 6 months", "14 days", "P14D", "unlimited"):
        assert f"| `{written}` |" in doc
    assert "`nb` (bokmål) and `en` (English)" in doc
    assert "| `legal_basis` | one of: `consent`, `contract`," in doc


def test_the_example_is_a_valid_manifest_without_errors() -> None:
    loaded = parse_manifest(EXAMPLE, file="docs/manifest.md")
    assert not has_errors(run_checks(loaded))
    assert f"```yaml\n{EXAMPLE}```" in render_reference()


def test_internal_links_point_at_headings() -> None:
    doc = render_reference()
    headings = {
        line.lstrip("#").strip().lower().replace(" ", "-")
        for line in doc.splitlines()
        if line.startswith("#")
    }
    for target in re.findall(r"\]\(#([^)]+)\)", doc):
        assert target in headings, f"link to #{target} has no heading"
