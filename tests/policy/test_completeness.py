"""The completeness check: each Art. 13/14 element a manifest can lack is found, refused
by the renderer, and reported by ``personvern check`` under one rule id."""

from __future__ import annotations

import copy
import html
from collections.abc import Callable
from typing import Any

import pytest

from personvern.check import RULES, run_checks
from personvern.errors import InvalidInput
from personvern.policy.completeness import ELEMENTS, missing_elements
from personvern.policy.render import render_policy
from policy.support import INCOMPLETE, NAMES, example, lawful_data, loaded_from

Data = dict[str, Any]


def base() -> Data:
    return lawful_data()


def purpose(i: int, **changes: Any) -> Callable[[Data], Data]:
    def edit(d: Data) -> Data:
        d["purposes"][i].update(changes)
        return d
    return edit


def drop(section: str, key: str) -> Callable[[Data], Data]:
    def edit(d: Data) -> Data:
        d[section].pop(key, None)
        return d
    return edit


def chain(*edits: Callable[[Data], Data]) -> Callable[[Data], Data]:
    def edit(d: Data) -> Data:
        for e in edits:
            d = e(d)
        return d
    return edit


def _set(path: str, value: Any) -> Callable[[Data], Data]:
    def edit(d: Data) -> Data:
        node = d
        *parents, last = path.split(".")
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[last] = value
        return d
    return edit


# (element, what breaks it, path of the gap)
CASES: list[tuple[str, Callable[[Data], Data], str]] = [
    ("controller_contact", chain(drop("controller", "email"), drop("controller", "address")),
     "controller"),
    ("dpo_contact", _set("controller.dpo", {"name": "Ola Ombud"}), "controller.dpo"),
    ("purposes", _set("purposes", []), "personvern"),
    ("legal_basis", purpose(0, legal_basis=None), "purposes[0].id"),
    ("legitimate_interest", purpose(4, legitimate_interest=None), "purposes[4].legal_basis"),
    ("categories", purpose(0, categories=[]), "purposes[0].id"),
    ("special_condition", purpose(0, categories=["user.name", "user.health"]),
     "purposes[0].categories"),
    ("recipients", purpose(0, third_party_sharing=True), "purposes[0].third_party_sharing"),
    ("recipient_country", _set("recipients.0.country", None), "recipients[0].name"),
    ("transfer_safeguard", _set("recipients.0.country", "US"), "recipients[0].country"),
    ("retention", purpose(0, retention=[]), "purposes[0].id"),
    ("automated_logic", purpose(0, automated_decisions={"legal_or_similar_effect": True,
                                                        "human_review": True}),
     "purposes[0].automated_decisions"),
]


def test_every_element_has_a_case_and_a_registered_rule() -> None:
    assert sorted(ELEMENTS) == sorted(e for e, _, _ in CASES)
    for element in ELEMENTS.values():
        assert element.rule in RULES, element
        assert element.article.startswith("GDPR Art.")


def test_new_notice_rules_start_at_pv050() -> None:
    new = sorted(e.rule for e in ELEMENTS.values() if e.rule >= "PV050")
    assert new == ["PV050", "PV051", "PV052", "PV053"]
    assert all(RULES[r].severity == "error" for r in new)
    assert all(RULES[r].source.startswith("GDPR Art. 13") for r in new)


@pytest.mark.parametrize(("element", "breaks", "path"), CASES, ids=[c[0] for c in CASES])
def test_each_gap_is_found_refused_and_reported(
    element: str, breaks: Callable[[Data], Data], path: str
) -> None:
    loaded = loaded_from(breaks(copy.deepcopy(base())))
    found = [m for m in missing_elements(loaded.manifest) if m.element == element]
    assert found, f"{element} not found"
    assert found[0].path == path
    assert found[0].article == ELEMENTS[element].article
    with pytest.raises(InvalidInput) as err:
        render_policy(loaded.manifest, "nb", "html")
    assert path in str(err.value) and ELEMENTS[element].rule in str(err.value)
    rule = ELEMENTS[element].rule
    findings = [f for f in run_checks(loaded) if f.rule == rule]
    assert any(f.path == path for f in findings), f"check does not report {rule} at {path}"
    # The draft marks the gap where the text would be.
    draft = render_policy(loaded.manifest, "en", "html", draft=True)
    assert f"[Missing: {ELEMENTS[element].en}]" in html.unescape(draft)


def test_the_base_is_complete() -> None:
    assert missing_elements(loaded_from(base()).manifest) == []


@pytest.mark.parametrize("name", NAMES)
def test_examples(name: str) -> None:
    missing = missing_elements(example(name).manifest)
    assert bool(missing) == (name in INCOMPLETE)
    # Every gap of an example is also an error-level finding of `personvern check`.
    findings = {(f.rule, f.path) for f in run_checks(example(name))}
    for m in missing:
        assert (m.rule, m.path) in findings, m


def test_gaps_of_the_incomplete_seeds() -> None:
    vekstly = {(m.element, m.path) for m in missing_elements(example("vekstly").manifest)}
    assert vekstly == {
        ("legal_basis", "purposes[10].id"), ("legitimate_interest", "purposes[4].legal_basis"),
        ("retention", "purposes[6].id"), ("retention", "purposes[10].id"),
        ("recipient_country", "recipients[0].name"),          # Stripe: seed 001 says nowhere
    }
    minmentor = missing_elements(example("minmentor").manifest)
    assert {m.element for m in minmentor} == {"legal_basis", "transfer_safeguard",
                                              "recipient_country"}
    assert sum(m.element == "transfer_safeguard" for m in minmentor) == 8
    # Seed 002 names recipients but never where they process the data.
    gaps = missing_elements(example("lillemini").manifest)
    assert [m.element for m in gaps] == ["recipient_country"] * 7
    # Seed 004 gives no country for Nets, and its US ad pixels no safeguard.
    gaps = missing_elements(example("teoritentamen").manifest)
    assert [m.element for m in gaps] == ["recipient_country", *["transfer_safeguard"] * 3]


def test_facts_that_can_be_stated_either_way_are_not_gaps() -> None:
    data = base()
    data["purposes"][3]["legal_obligation"] = None      # basis without statute (PV005)
    data["cookies"][0].pop("lifetime", None)            # "not stated" (PV032)
    data["rights"]["channels"] = []                     # the controller's contacts instead
    data["controller"].pop("dpo", None)
    assert missing_elements(loaded_from(data).manifest) == []
