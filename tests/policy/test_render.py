"""Writing the policy: complete accessible HTML, the same content in Markdown, sentences
chosen by the manifest so that none is false for it, and escaping of what comes from it."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from personvern.errors import InvalidInput
from personvern.policy.document import (
    Bullets,
    Document,
    Facts,
    Inline,
    Paragraph,
    Subsection,
    Table,
)
from personvern.policy.render import build_document, render_documents, render_policy
from policy.support import INCOMPLETE, NAMES, example, example_data, lawful_data, manifest_from
from policy.test_fidelity import visible_text

VOID = {"meta", "br", "hr", "img", "input", "link"}


class Structure(HTMLParser):
    """Checks nesting and collects what accessibility depends on."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.headings: list[int] = []
        self.html_lang: str | None = None
        self.ids: list[str] = []
        self.tables = 0
        self.captions = 0
        self.col_headers = 0
        self.row_headers = 0
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag in {"h1", "h2", "h3", "h4"}:
            self.headings.append(int(tag[1]))
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "table":
            self.tables += 1
        if tag == "caption":
            self.captions += 1
        if tag == "th":
            if a.get("scope") == "col":
                self.col_headers += 1
            elif a.get("scope") == "row":
                self.row_headers += 1
            else:
                self.errors.append("<th> without scope")
        if tag == "a":
            self.hrefs.append(a.get("href") or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()


def parse(document: str) -> Structure:
    s = Structure()
    s.feed(document)
    s.close()
    return s


def render(name: str, lang: str, fmt: str) -> str:
    return render_policy(example(name).manifest, lang, fmt, draft=name in INCOMPLETE)


# ---- the HTML is a complete, accessible document ------------------------------------

@pytest.mark.parametrize("lang", ["nb", "en"])
@pytest.mark.parametrize("name", NAMES)
def test_html_is_complete_and_accessible(name: str, lang: str) -> None:
    document = render(name, lang, "html")
    assert document.startswith("<!DOCTYPE html>")
    s = parse(document)
    assert not s.errors, s.errors[:5]
    assert not s.stack, f"unclosed: {s.stack}"
    assert s.html_lang == lang
    assert "<title>" in document and '<meta charset="utf-8">' in document
    assert s.headings.count(1) == 1 and s.headings[0] == 1
    # Headings never skip a level on the way down.
    assert all(b <= a + 1 for a, b in zip(s.headings, s.headings[1:], strict=False))
    assert s.tables >= 3 and s.captions == s.tables
    assert s.col_headers >= 2 * s.tables and s.row_headers > 0
    assert len(s.ids) == len(set(s.ids)), "duplicate ids"
    internal = [h[1:] for h in s.hrefs if h.startswith("#")]
    assert set(internal) <= set(s.ids), set(internal) - set(s.ids)
    assert all(h.startswith(("#", "https://", "http://", "mailto:", "tel:")) for h in s.hrefs)


def _runs(doc: Document) -> list[Inline]:
    out: list[Inline] = list(doc.lead)

    def walk(blocks: list[Any]) -> None:
        for b in blocks:
            if isinstance(b, Paragraph):
                out.append(b.runs)
            elif isinstance(b, Bullets):
                out.extend(b.items)
            elif isinstance(b, Facts):
                out.extend(value for _label, value in b.items)
            elif isinstance(b, Table):
                out.extend(cell for row in b.rows for cell in row)
            elif isinstance(b, Subsection):
                walk(b.blocks)

    for section in doc.sections:
        walk(section.blocks)
    return out


@pytest.mark.parametrize("lang", ["nb", "en"])
@pytest.mark.parametrize("name", NAMES)
def test_markdown_says_what_the_html_says(name: str, lang: str) -> None:
    doc = build_document(example(name).manifest, lang, draft=name in INCOMPLETE)
    texts = {fmt: visible_text(render(name, lang, fmt), fmt) for fmt in ("html", "md")}
    for runs in _runs(doc):
        for run in runs:
            piece = " ".join(run.text.split()).casefold()
            if len(piece) < 3:
                continue
            for fmt, text in texts.items():
                assert piece in text, f"{fmt} lacks {run.text!r}"
    for section in doc.sections:
        for text in texts.values():
            assert section.heading.casefold() in text


def test_markdown_tables_and_headings() -> None:
    md = render_policy(manifest_from(lawful_data()), "nb", "md")
    assert md.startswith("# Personvernerklæring for Teoritentamen.no\n")
    assert "\n## Dine rettigheter\n" in md and "\n- **Innsyn:** " in md
    assert ("| Formål | Hva vi gjør | Opplysninger | Behandlingsgrunnlag "
            "| Må du oppgi dem? |\n|---|---|---|---|---|\n") in md
    cells = 0
    for line in md.splitlines():
        if not line.startswith("|"):
            cells = 0
        elif not cells:
            cells = line.count("|")          # the header row of a table
        else:
            # Pipes inside cells are escaped, so every row has the header's cells.
            assert line.replace("\\|", "").count("|") == cells, line


def test_all_documents_at_once() -> None:
    lawful = manifest_from(lawful_data())
    docs = render_documents(lawful, version=3, effective=lawful.policy_changes.effective_from)
    assert sorted(docs) == ["en", "nb"]
    assert all(sorted(d) == ["html", "md"] for d in docs.values())
    assert "Versjon 3" in docs["nb"]["html"] and "Version 3" in docs["en"]["md"]


# ---- plain language from the manifest -------------------------------------------------

def test_retention_in_words() -> None:
    nb = visible_text(render("snapmentor", "nb", "md"), "md")
    en = visible_text(render("snapmentor", "en", "md"), "md")
    # Each rule once, with the purposes it applies to; the first to apply decides.
    assert "slettes to år etter siste aktivitet alle formålene unntatt regnskap og fakturering" \
        in nb
    assert "slettes når du trekker samtykket" in nb
    assert "der et formål har flere regler, gjelder den som slår til først." in nb
    assert "deleted two years after your last activity" in en
    assert "where a purpose has more than one rule, the first to apply decides." in en
    assert "slettes fem år etter utgangen av regnskapsåret" in nb


def test_legitimate_interest_and_statute_are_named() -> None:
    nb = visible_text(render("teoritentamen", "nb", "html"), "html")
    assert "interessen vår at nettsiden fungerer på en optimal måte." in nb
    # The statute in the purpose's row; the article once, where the basis is explained.
    assert "navn; kjøpshistorikk; betalings- og transaksjonsopplysninger " \
        "rettslig forpliktelse etter regnskapslovgivningen" in nb
    assert "rettslig forpliktelse (art. 6 nr. 1 bokstav c)" in nb
    assert "loven pålegger oss å behandle opplysningene." in nb
    en = visible_text(render("teoritentamen", "en", "html"), "html")
    assert "our interest marketing our services." in en


def test_each_right_with_each_channel() -> None:
    text = visible_text(render("minmentor", "en", "md"), "md")
    # The ways every right shares are said once; the company admin's portal serves access,
    # rectification and erasure only, and is said once with them.
    assert ("to use your rights, e-mail post@minmentor.no, call +47 458 07 600 or write to "
            "min mentor as, postboks 225, 5804 bergen.") in text
    assert "also for access, rectification and erasure: use huben, via bedriftens " \
        "administratorbruker." in text
    start = text.index("using them is free of charge")
    rights = text[start:text.index("complaints to", start)]
    assert rights.count("post@minmentor.no") == 1


def test_complaint_to_the_authority_from_the_jurisdiction() -> None:
    for lang in ("nb", "en"):
        text = visible_text(render("vekstly", lang, "html"), "html")
        assert "datatilsynet" in text and "postboks 458 sentrum, 0105 oslo" in text
        assert "klage-til-datatilsynet" in render("vekstly", lang, "html")


# ---- no sentence that is false for the manifest ----------------------------------------

def _text(data: dict[str, Any], lang: str = "nb") -> str:
    return visible_text(render_policy(manifest_from(data), lang, "md"), "md")


def test_no_transfer_claim_unless_every_country_is_in_the_eea() -> None:
    assert "vi overfører ikke personopplysninger til land utenfor eøs" in _text(
        example_data("snapmentor"))
    # Unknown countries (seed 004) and US processors: no such claim.
    assert "til land utenfor eøs." not in visible_text(render("teoritentamen", "nb", "md"), "md")
    assert "vi overfører ikke" not in visible_text(render("minmentor", "nb", "md"), "md")
    data = example_data("snapmentor")
    data["recipients"][0].update(country="US", transfer={"mechanism": "scc"})
    text = _text(data)
    assert "vi overfører ikke" not in text
    assert "vipps databehandler" in text and \
        "usa eu-kommisjonens standardkontraktsklausuler (art. 46)" in text
    assert "noen mottakere behandler opplysninger utenfor eøs, se tabellen." in text
    assert "du kan få en kopi av garantiene" in text
    data["recipients"] = []
    for p in data["purposes"]:
        p["recipients"] = []
    assert "vi deler ikke personopplysningene dine med andre" in _text(data)


def test_only_the_rights_the_bases_give() -> None:
    data = lawful_data()
    # Only a legal obligation left: no portability, objection or withdrawal, and no
    # erasure either: GDPR Art. 17(3)(b) excludes what a legal obligation requires.
    data["purposes"] = [p for p in data["purposes"] if p["id"] == "bookkeeping"]
    data["cookies"] = []
    text = _text(data, "en")
    for absent in ("### data portability", "data portability", "objection",
                   "withdrawing consent", "human review", "erasure: having"):
        assert absent not in text, absent
    for present in ("access: knowing", "rectification: having", "restriction: having"):
        assert present in text
    # With a purpose on contract beside it, erasure is a right, with what the law keeps.
    data = lawful_data()
    data["purposes"] = [p for p in data["purposes"]
                        if p["legal_basis"] in ("legal_obligation", "contract")]
    data["cookies"] = []
    assert "erasure: having data erased (art. 17)" in _text(data, "en")
    # Seed 004 offers human review without automated decisions: not listed as a right.
    full = visible_text(render("teoritentamen", "en", "md"), "md")
    assert "human review" not in full
    # The Art. 22 right is the law's; "we make none" only when the manifest says so.
    assert "you have the right not to be subject to a decision based solely on automated " \
        "processing" in full
    assert "we make no decisions about you" not in full
    data = lawful_data()
    data["no_automated_decisions"] = True
    assert "we make no decisions about you based solely on automated processing" in _text(
        data, "en")


def test_consent_sentences_only_with_consent() -> None:
    data = lawful_data()
    data["purposes"] = [p for p in data["purposes"] if p["legal_basis"] != "consent"]
    data["cookies"] = [c for c in data["cookies"] if c["category"] == "necessary"]
    text = _text(data)
    assert "nytt samtykke" not in text
    assert "trekke tilbake samtykke" not in text
    assert "nødvendige informasjonskapsler trenger ikke samtykke" in text
    assert "like lett å si nei" not in text


def test_sections_follow_the_manifest() -> None:
    data = example_data("lillemini")
    # Seed 002 names no country for any recipient (PV008); give them one to write it.
    for r in data["recipients"]:
        r["country"] = "NO"
    text = _text(data)
    assert "informasjonskapsler (cookies)" not in text   # no cookies
    assert "\n## barn" not in text and "tjenesten brukes også av barn" not in text
    # Seed 002 says nothing of profiling, so neither does its policy.
    assert "vi bruker ikke profilering" not in text
    assert "minst" not in text.split("når vi endrer personvernerklæringen")[-1]  # no notice
    assert "på e-post, hvis vi har e-postadressen din" not in text
    data["policy_changes"] = {"notice_days": 30, "email_on_material_change": True}
    data["no_profiling"] = True
    text = _text(data)
    assert "vi bruker ikke profilering" in text
    assert "minst 30 dager før den trer i kraft" in text
    assert "varsler vi deg også på e-post" in text


def test_children_and_guardians() -> None:
    text = visible_text(render("teoritentamen", "nb", "md"), "md")
    assert "barn under 13 år kan ikke selv samtykke" in text
    assert "vi ber derfor om samtykke fra en forelder eller foresatt" in text
    # Seed 000 has pupils but no guardian consent: the law is stated, no promise made.
    snap = visible_text(render("snapmentor", "nb", "md"), "md")
    assert "barn under 13 år kan ikke selv samtykke" in snap
    assert "vi ber derfor om samtykke" not in snap
    data = lawful_data()
    data["jurisdiction"] = {"country": "NO", "child_consent_age": 15}
    assert "barn under 15 år" in _text(data)


def test_cookie_table() -> None:
    text = visible_text(render("teoritentamen", "en", "md"), "md")
    # The three pixels differ only by name and provider: one row says their purpose once.
    assert ("facebook/instagram-piksel, snapchat-piksel and youtube-annonser meta, snap and "
            "google (third party) marketing measures conversions and targets ads.") in text
    assert text.count("measures conversions and targets ads") == 1
    data = lawful_data()
    data["cookies"][0]["lifetime"] = "13 months"
    data["cookies"][1]["lifetime"] = "session"
    text = _text(data, "en")
    assert "13 months" in text
    assert "until you close your browser" in text


# ---- escaping ------------------------------------------------------------------------

def test_manifest_text_is_escaped() -> None:
    data = lawful_data()
    data["purposes"][0]["description"] = {
        "nb": "<script>alert('x')</script> *fet* | rør & [lenke](javascript:alert(1))",
        "en": "<b>bold</b>",
    }
    data["recipients"][0]["privacy_policy"] = "javascript:alert(1)"
    m = manifest_from(data)
    html_doc = render_policy(m, "nb", "html")
    assert "<script>" not in html_doc and "&lt;script&gt;" in html_doc
    assert 'href="javascript' not in html_doc
    md = render_policy(m, "nb", "md")
    assert "\\<script\\>" in md and "\\*fet\\*" in md and "rør \\| &" not in md
    assert "](javascript" not in md.replace("\\](javascript", "")
    assert "<b>" not in render_policy(m, "en", "html")


# ---- bad input -----------------------------------------------------------------------

def test_unknown_language_or_format() -> None:
    m = example("teoritentamen").manifest
    with pytest.raises(InvalidInput, match="unknown language 'de'"):
        render_policy(m, "de", "html")
    with pytest.raises(InvalidInput, match="unknown format 'pdf'"):
        render_policy(m, "nb", "pdf")


def test_missing_elements_refuse_and_list(tmp_path: Path) -> None:
    m = example("vekstly").manifest
    with pytest.raises(InvalidInput) as err:
        render_policy(m, "nb", "html")
    message = str(err.value)
    assert "5 mandatory elements are missing" in message
    for part in ("purposes[10].id: purpose 'cookies' has no legal basis",
                 "GDPR Art. 13(1)(c), PV001", "PV003", "GDPR Art. 13(2)(a), PV009"):
        assert part in message
    draft = render_policy(m, "nb", "html", draft=True)
    assert "Utkast – kan ikke publiseres" in draft
    assert '<mark class="missing">[Mangler: behandlingsgrunnlag]</mark>' in draft
    assert "[missing: storage period]" in visible_text(
        render_policy(m, "en", "md", draft=True), "md")


def test_catalogues_have_the_same_phrases() -> None:
    from personvern.policy.wording.phrases import catalogue

    def keys(node: Any, prefix: str = "") -> set[str]:
        if not isinstance(node, dict):
            return set()
        out = set()
        for k, v in node.items():
            out |= {prefix + str(k)} | keys(v, f"{prefix}{k}.")
        return out

    nb, en = catalogue("nb"), catalogue("en")
    assert keys(nb) == keys(en)
    assert nb["countries"].keys() == en["countries"].keys()
