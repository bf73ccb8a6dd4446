"""docs/integrate.md says what the code does: its manifest fragment is valid, and its table of
error classes is the server's list of problem types, in both clients."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import personvern.client
from personvern.client import ERRORS
from personvern.manifest.model import Dataset, Recipient
from personvern.web.problems import TYPES

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "integrate.md").read_text(encoding="utf-8")
TS_ERRORS = (ROOT / "clients" / "typescript" / "src" / "errors.ts").read_text(encoding="utf-8")


def test_the_manifest_fragment_is_valid_and_signs_both_kinds_of_call() -> None:
    [block] = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
    data = yaml.safe_load(block)
    [dataset] = [Dataset.model_validate(d) for d in data["datasets"]]
    [recipient] = [Recipient.model_validate(r) for r in data["recipients"]]
    assert dataset.kind == "http" and dataset.callback and dataset.secret_env
    assert recipient.webhook and recipient.secret_env


def test_the_error_table_names_every_type_and_its_class_in_both_clients() -> None:
    rows = re.findall(r"^\| `([a-z-]+)` \| `(\w+)`[^|]*\| `(\w+)`[^|]*\|$", DOC, re.M)
    assert {slug for slug, _, _ in rows} == set(TYPES)
    for slug, python, typescript in rows:
        assert ERRORS[slug] is getattr(personvern.client, python), slug
        assert re.search(rf"^export class {typescript} extends \w+ {{\s*static override "
                         rf'readonly slug: string = "{slug}"', TS_ERRORS, re.M), typescript
