"""Helpers for the policy tests: example manifests, manifest edits, and the CLI."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
from collections.abc import Callable
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli_inprocess import run_personvern
from personvern.manifest.loader import LoadedManifest, load_manifest, parse_manifest
from personvern.manifest.model import Manifest
from personvern.manifest.yamlpos import load_with_positions
from personvern.policy.document import Document
from personvern.policy.formats import write
from personvern.policy.render import build_document
from personvern.policy.wording.phrases import Phrases

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["snapmentor", "vekstly", "lillemini", "minmentor", "teoritentamen"]
# Seeds whose manifests lack an Art. 13 element (genuine faults of the seed policy, also
# reported as errors by `personvern check`): their policy is only written as a draft.
# Lillemini and Teoritentamen name recipients without saying where they process the data
# (Art. 13(1)(f)), so whether it leaves the EEA is unanswered.
INCOMPLETE = {"vekstly", "minmentor", "lillemini", "teoritentamen"}


@cache
def example(name: str) -> LoadedManifest:
    """An example manifest, loaded once."""
    return load_manifest(EXAMPLES / f"{name}.yaml")


def example_data(name: str) -> dict[str, Any]:
    """An example manifest as plain data, to change freely."""
    # The project's loader, not yaml.safe_load: YAML 1.1 would read country NO as false.
    text = (EXAMPLES / f"{name}.yaml").read_text("utf-8")
    data: dict[str, Any] = load_with_positions(text)[0]
    return copy.deepcopy(data)


def lawful_data(name: str = "teoritentamen") -> dict[str, Any]:
    """An example with its check errors put right, so that it may be published.

    Every example models a seed with genuine errors, and a policy with check errors is
    never published (issue 12). This puts Teoritentamen's right, each as the law asks,
    and fails if any check error is left.
    """
    from personvern.check.gate import blocking_findings

    assert name == "teoritentamen", "only teoritentamen is made lawful here"
    data = example_data(name)
    purposes = {p["id"]: p for p in data["purposes"]}
    # PV015, markedsføringsloven § 15: the existing-customer exception with its conditions.
    purposes["electronic_marketing"]["marketing"].update(
        similar_products_only=True, opt_out_at_collection=True, opt_out_in_every_message=True)
    # PV008, Art. 13(1)(f): every recipient's country (here: in the EEA), and PV065: the
    # seed's "no transfers to third countries" made true by keeping the pixels in the EEA.
    for r in data["recipients"]:
        r["country"] = "IE"
    # PV040, Art. 13(2)(a): a concrete criterion, not "as long as necessary".
    rule = next(r for r in data["retention"] if r["id"] == "as_long_as_needed")
    rule["criterion"] = {"nb": "Når kundeforholdet ditt avsluttes",
                         "en": "When your customer relationship ends"}
    # PV068, EDPB Guidelines 2/2019: improving the service on legitimate interest instead.
    purposes["improvement"].update(legal_basis="legitimate_interests", legitimate_interest={
        "interest": {"nb": "Å gjøre tjenesten bedre", "en": "Making the service better"},
        "balancing": {"nb": "Bare progresjon og notater, aldri delt",
                      "en": "Only progress and notes, never shared"}})
    errors = blocking_findings(loaded_from(data))
    assert not errors, [f"{f.rule} {f.message}" for f in errors]
    return data


def to_text(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def loaded_from(data: dict[str, Any]) -> LoadedManifest:
    return parse_manifest(to_text(data), file="m.yaml")


def manifest_from(data: dict[str, Any]) -> Manifest:
    return loaded_from(data).manifest


def run_cli(*args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``personvern ARGS`` as a person runs it, through the console-script entry in the test
    process (tests/cli_inprocess.py); ``env`` replaces the environment, as for a process."""
    return run_personvern(*args, env=env, cwd=cwd)


@pytest.fixture
def cli_env(tmp_path: Path) -> Callable[[dict[str, Any]], dict[str, str]]:
    """Environment for the CLI with the given manifest data and a fresh SQLite file."""
    import os

    def make(data: dict[str, Any]) -> dict[str, str]:
        path = tmp_path / "personvern.yaml"
        path.write_text(to_text(data), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_")}
        env.update(PERSONVERN_MANIFEST=str(path),
                   PERSONVERN_DATABASE_URL=f"sqlite:///{tmp_path / 'pv.db'}",
                   PERSONVERN_MASTER_KEY=os.environ["PERSONVERN_MASTER_KEY"])
        return env

    return make


# ---- length (issue 12, item 7), also measured by benchmarks/policy.py ----------------

# Words of each seed document (``len(text.split())`` of shared/seeds/00N_*.txt, which are
# not in the repository); benchmarks/policy.py records the same figures.
SEED_WORDS = {"snapmentor": 486, "vekstly": 1117, "lillemini": 993, "minmentor": 1860,
              "teoritentamen": 881}
FIRST_LAYER_LIMIT = 400


def length_limit(name: str) -> float:
    """The whole policy: no longer than 1.5 x its seed, or 1,200 words, whichever is larger."""
    return max(1.5 * SEED_WORDS[name], 1200)


class Reader(HTMLParser):
    """The words of <main>, of the first layer, and the prose blocks outside tables and
    navigation (paragraphs, list items, definitions)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.main: list[str] = []
        self.first: list[str] = []
        self.blocks: list[list[str]] = []

    def _inside(self, tag: str, ident: str | None = None) -> bool:
        return any(t == tag and (ident is None or i == ident) for t, i in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"meta", "br", "hr", "img", "input", "link"}:
            return
        self.stack.append((tag, dict(attrs).get("id")))
        if tag in {"p", "li", "dd"} and not (self._inside("nav") or self._inside("table")):
            self.blocks.append([])

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break
        for words in (self.main, self.first):
            words.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._inside("main"):
            return
        self.main.append(data)
        if self._inside("section", "summary"):
            self.first.append(data)
        if self.blocks and any(t in {"p", "li", "dd"} for t, _ in self.stack) and not (
                self._inside("nav") or self._inside("table")):
            self.blocks[-1].append(data)


def published(name: str, lang: str) -> Document:
    """The example's policy as publishing would show it: the draft marks taken off."""
    m = example(name).manifest
    doc = build_document(m, lang, draft=True)
    return dataclasses.replace(
        doc, title=Phrases(lang).text("title", service=m.service.name), draft_mark=None,
        draft_title=None, draft_lead=None, draft_items=[])


def read_policy(name: str, lang: str = "nb") -> Reader:
    """The example's published policy in ``lang``, read as HTML."""
    reader = Reader()
    reader.feed(write(published(name, lang), "html"))
    reader.close()
    return reader


def words(parts: list[str]) -> int:
    """How many words the text pieces hold."""
    return len("".join(parts).split())
