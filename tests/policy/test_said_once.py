"""Each fact said once, where a reader looks for it (issue 12, item 7): what the second
pass at the policy's length changed, each shown on a manifest that differs in one field."""

from __future__ import annotations

import re
from typing import Any

import pytest

from personvern.errors import ManifestError
from personvern.policy.render import render_policy
from policy.support import lawful_data, manifest_from
from policy.test_fidelity import visible_text


def _md(data: dict[str, Any], lang: str = "nb") -> str:
    return render_policy(manifest_from(data), lang, "md")


def _section(md: str, heading: str) -> str:
    """The Markdown of one ``## heading`` section."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", md, re.M | re.S)
    assert match, heading
    return match.group(1)


def _first_layer_data(md: str) -> str:
    return next(line for line in md.splitlines() if line.startswith("- Opplysninger:"))


def test_the_data_section_lists_only_what_it_has_more_to_say_about() -> None:
    """A category a purpose uses is named in the purposes table; the data section adds a
    row only for a description or a source other than the person (Art. 14(2)(f))."""
    data = lawful_data()
    md = _md(data)
    section = _section(md, "Opplysninger")
    assert "| Progresjon i tjenesten | Hvor langt du har kommet" in section
    assert "| Postadresse |" not in section and "| Navn |" not in section
    assert "postadresse" in _section(md, "Formål")  # still named with its purposes
    # Given a source, the same category gets its row, with the source named.
    address = next(c for c in data["categories"] if c["id"] == "user.contact.address")
    address["source"] = {"nb": "Folkeregisteret", "en": "The population register"}
    section = _section(_md(data), "Opplysninger")
    assert "| Postadresse |  | Folkeregisteret |" in section
    assert "Står det ikke noe annet i tabellen, får vi opplysningene fra deg" in section
    # Declared but used by no purpose: named here, since nowhere else names it.
    data["categories"].append({"id": "user.shoe_size",
                               "name": {"nb": "Skostørrelse", "en": "Shoe size"}})
    assert "| Skostørrelse |" in _section(_md(data), "Opplysninger")


def test_the_first_layer_names_a_group_of_plain_built_in_categories_by_the_group() -> None:
    data = lawful_data()
    line = _first_layer_data(_md(data))
    # Postal address, e-mail and phone are all built-in contact details.
    assert "kontaktinformasjon" in line and "e-postadresse" not in line
    # What the author named or described is named itself.
    assert "tilknyttet trafikkskole" in line and "progresjon i tjenesten" in line
    # A special category (Art. 9) is never hidden in a group.
    data["categories"] += [{"id": "user.health"}, {"id": "user.health.genetic"}]
    data["purposes"][0]["categories"] += ["user.health", "user.health.genetic"]
    # Without its Art. 9(2) condition (PV012) it is only a draft, which must not hide it.
    line = _first_layer_data(render_policy(manifest_from(data), "nb", "md", draft=True))
    assert "helseopplysninger" in line and "genetiske opplysninger" in line
    # One contact detail alone is named itself, not by its group.
    data = lawful_data()
    data["purposes"] = [p for p in data["purposes"] if p["id"] in {"payment", "bookkeeping"}]
    line = _first_layer_data(render_policy(manifest_from(data), "nb", "md", draft=True))
    assert "e-postadresse" in line and "kontaktinformasjon" not in line


def test_what_follows_from_not_giving_the_data_is_said_once_with_the_contract() -> None:
    """Art. 13(2)(e): every purpose on a contract needs its data, so the consequence is
    said with the contract basis and the cells say "Ja"; a purpose on consent says "Nei"."""
    md = _md(lawful_data())
    purposes = _section(md, "Formål")
    assert "Uten opplysningene kan vi ikke det." in purposes
    assert "| Avtale med deg | Ja |" in purposes
    assert "| Samtykke | Nei |" in purposes
    assert "ellers kan vi ikke oppfylle avtalen" not in purposes
    # A contract purpose whose data is not required: the consequence is not said for all
    # (PV060 calls the manifest wrong; the draft does not add a false sentence to it).
    data = lawful_data()
    data["purposes"][0]["required"] = False
    purposes = _section(render_policy(manifest_from(data), "nb", "md", draft=True), "Formål")
    assert "Uten opplysningene kan vi ikke det." not in purposes
    assert "Ja, ellers kan vi ikke oppfylle avtalen" in purposes


def test_a_channel_in_the_app_is_named_in_the_readers_language() -> None:
    data = lawful_data()
    form = next(c for c in data["rights"]["channels"] if c["type"] == "web_form")
    assert form["label"]["nb"] == "preferansesiden på teoritentamen.no"
    assert "bruk skjemaet: preferansesiden på teoritentamen.no" in visible_text(
        _md(data), "md")
    assert "use the form: the preferences page on teoritentamen.no" in visible_text(
        _md(data, "en"), "md")


def test_objection_names_the_public_interest_only_when_a_purpose_rests_on_it() -> None:
    data = lawful_data()
    rights = _section(_md(data), "Dine rettigheter")
    assert "bygger på berettiget interesse; da stanser vi" in rights
    assert "allmennhetens interesse" not in rights
    data["purposes"][-1].update(legal_basis="public_task", legal_obligation=None)
    data["purposes"][-1].pop("legitimate_interest", None)
    data["purposes"][-1].pop("marketing", None)
    rights = _section(render_policy(manifest_from(data), "nb", "md", draft=True),
                      "Dine rettigheter")
    assert "allmennhetens interesse eller berettiget interesse" in rights


def test_a_column_of_empty_cells_is_left_out() -> None:
    data = lawful_data()
    storage = _section(_md(data), "Lagringstid")
    assert "| Lagringstid | Gjelder |\n" in storage and "Nærmere forklaring" not in storage
    data["retention"][0]["description"] = {"nb": "Regelen forklart.", "en": "Explained."}
    storage = _section(_md(data), "Lagringstid")
    assert "| Lagringstid | Gjelder | Nærmere forklaring |" in storage
    assert "Regelen forklart." in storage


def test_a_cookie_without_a_name_is_described_in_the_readers_language() -> None:
    data = lawful_data()
    assert "| (ikke navngitt) nødvendige | Lime Green Digital AS |" in _md(data)
    assert "| (not named) strictly necessary | Lime Green Digital AS |" in _md(data, "en")
    assert "ikke navngitt" not in _md(data, "en")
    # The same name in either language is the same cookie: a second one is refused.
    data["cookies"].append({**data["cookies"][0], "name": "(not named) strictly necessary"})
    with pytest.raises(ManifestError, match=r"duplicate cookie '\(not named\) strictly"):
        manifest_from(data)
