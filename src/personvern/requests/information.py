"""The Art. 15 information: what the service tells a person about their data.

GDPR Art. 15(1)-(2), from the manifest: the controller, each of the person's purposes
with its legal basis, categories, sources, recipients, retention and the rights that
basis gives, and where to complain. The portal shows it; the access package carries it
as data (``data.json``) and as a readable page (``summary.html``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from personvern.law import Jurisdiction, is_eea
from personvern.manifest.model import LEGAL_BASIS_ARTICLE, Manifest, RetentionRule
from personvern.requests.jobs import Job, subject_purposes
from personvern.rights.basis import rights_for

if TYPE_CHECKING:
    from jinja2 import Template

# The summary page's words; then bases and rights as (bokmål, English), indexed by language.
LABELS = {
    "nb": {"title": "Innsyn: dine personopplysninger", "controller": "Behandlingsansvarlig",
           "purposes": "Hva vi bruker opplysningene til", "basis": "Rettslig grunnlag",
           "categories": "Opplysninger", "recipients": "Mottakere", "retention": "Lagringstid",
           "rights": "Dine rettigheter", "complaint": "Klage", "data": "Dine data",
           "source": "Kilde", "automated": "Automatiserte avgjørelser",
           "complaint_text": "Du kan klage til {name}, {address} ({url}).",
           "generated": "Laget", "rows": "rader", "redacted": "Henvisninger til andre personer "
           "er skjult.", "not_stated": "ikke oppgitt i våre opplysninger",
           "no_country": "land ikke oppgitt i våre opplysninger",
           "no_safeguard": "utenfor EØS, overføringsgrunnlag ikke oppgitt i våre opplysninger",
           "manual": "Opplysninger som utleveres separat",
           "manual_text": "Disse systemene hos våre databehandlere når vi ikke selv, så "
           "opplysningene derfra er ikke i denne pakken. Forespørselen din avsluttes først når "
           "svaret fra hver av dem er registrert.",
           "unanswered": "ikke besvart ennå", "answered": "besvart",
           "no_processor": "databehandler ikke oppgitt i våre opplysninger"},
    "en": {"title": "Access: your personal data", "controller": "Controller",
           "purposes": "What we use the data for", "basis": "Legal basis",
           "categories": "Data", "recipients": "Recipients", "retention": "How long",
           "rights": "Your rights", "complaint": "Complaint", "data": "Your data",
           "source": "Source", "automated": "Automated decisions",
           "complaint_text": "You may complain to {name}, {address} ({url}).",
           "generated": "Generated", "rows": "rows", "redacted": "References to other people "
           "are redacted.", "not_stated": "not stated in our records",
           "no_country": "country not stated in our records",
           "no_safeguard": "outside the EEA, safeguard not stated in our records",
           "manual": "Data handed over separately",
           "manual_text": "We cannot reach these systems of our processors ourselves, so the "
           "data held there is not in this package. Your request is completed only once each "
           "one's answer is recorded.",
           "unanswered": "not yet answered", "answered": "answered",
           "no_processor": "processor not stated in our records"},
}
BASIS_NAMES = {
    "consent": ("samtykke", "consent"), "contract": ("avtale", "contract"),
    "legal_obligation": ("rettslig forpliktelse", "legal obligation"),
    "vital_interests": ("vitale interesser", "vital interests"),
    "public_task": ("offentlig oppgave", "public task"),
    "legitimate_interests": ("berettiget interesse", "legitimate interests"),
}
RIGHT_NAMES = {
    "access": ("innsyn", "access"), "rectification": ("retting", "rectification"),
    "erasure": ("sletting", "erasure"), "restriction": ("begrensning", "restriction"),
    "objection": ("protest", "objection"), "portability": ("dataportabilitet", "portability"),
    "withdraw_consent": ("trekke tilbake samtykke", "withdraw consent"),
    "human_review": ("menneskelig vurdering", "human review"),
}


def rule_text(rule: RetentionRule, lang: str) -> str:
    """A retention rule in words: its description, or its duration and trigger."""
    if rule.description is not None:
        return rule.description.get(lang)
    return f"{rule.duration} after {rule.trigger.replace('_', ' ')}"


def art15(manifest: Manifest, j: Jurisdiction, job: Job, lang: str) -> dict[str, Any]:
    """This person's Art. 15(1)-(2) information, from the manifest, as plain data."""
    i = 0 if lang == "nb" else 1
    c = manifest.controller
    contact = c.dpo or c.privacy_contact
    names = {cat.id: cat.name.get(lang) for cat in manifest.categories if cat.name}
    sources = {cat.id: cat.source.get(lang) for cat in manifest.categories if cat.source}
    purposes = []
    for p in subject_purposes(manifest, job):
        basis = p.legal_basis
        recipients = [r for r in (manifest.recipient(rid) for rid in p.recipients) if r]
        rules = [r for r in (manifest.retention_rule(rid) for rid in p.retention) if r]
        purposes.append({
            "id": p.id, "name": p.name.get(lang),
            "description": p.description.get(lang) if p.description else None,
            "basis": BASIS_NAMES[basis][i] if basis else None,
            "article": f"GDPR Art. 6(1)({LEGAL_BASIS_ARTICLE[basis]})" if basis else None,
            "legitimate_interest": p.legitimate_interest.interest.get(lang)
            if p.legitimate_interest else None,
            "statute": p.legal_obligation.statute if p.legal_obligation else None,
            "categories": [names.get(k, k) for k in p.categories],
            "sources": sorted({sources[k] for k in p.categories if k in sources}),
            # Art. 15(1)(c), 15(2): only what the manifest says; the default role
            # ("processor") is no statement, and a third country without a safeguard is
            # marked so the page says it rather than staying silent.
            "recipients": [{"name": r.name, "role": r.role if r.role_stated else None,
                            "service": r.service.get(lang), "country": r.country,
                            "third_country": r.country is not None and not is_eea(r.country),
                            "transfer": r.transfer.mechanism if r.transfer else None}
                           for r in recipients],
            "retention": [rule_text(r, lang) for r in rules],
            "rights": [RIGHT_NAMES[r][i] for r in rights_for(p)],
            "automated": p.automated_decisions.logic.get(lang)
            if p.automated_decisions and p.automated_decisions.logic else None,
        })
    a = j.authority
    return {
        "controller": {"name": c.name, "orgnr": c.orgnr, "address": c.address, "email": c.email,
                       "phone": c.phone,
                       "contact": contact.email if contact else None},
        "purposes": purposes,
        "complaint": {"authority": a.name, "address": a.address, "website": a.website,
                      "complaint_url": a.complaint_url},
        "language": lang,
    }


_SUMMARY = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ t.title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
</style></head><body>
<h1>{{ t.title }}</h1>
<p>{{ t.generated }}: {{ generated }}</p>
<h2>{{ t.controller }}</h2>
<p>{{ info.controller.name }}{% if info.controller.orgnr %}
({{ info.controller.orgnr }}){% endif %}{% if info.controller.address %},
{{ info.controller.address }}{% endif %}{% if info.controller.contact %} —
{{ info.controller.contact }}{% endif %}</p>
<h2>{{ t.purposes }}</h2>
{% for p in info.purposes %}<section><h3>{{ p.name }}</h3>
{% if p.description %}<p>{{ p.description }}</p>{% endif %}
<dl><dt>{{ t.basis }}</dt><dd>{% if p.basis %}{{ p.basis }} ({{ p.article }}){% if p.statute
 %}, {{ p.statute }}{% endif %}{% if p.legitimate_interest %}: {{ p.legitimate_interest }}
{% endif %}{% else %}{{ t.not_stated }}{% endif %}</dd>
<dt>{{ t.categories }}</dt><dd>{{ p.categories | join(", ") }}</dd>
{% if p.sources %}<dt>{{ t.source }}</dt><dd>{{ p.sources | join("; ") }}</dd>{% endif %}
<dt>{{ t.recipients }}</dt><dd>{% for r in p.recipients %}{{ r.name }} ({{ r.service }}{%
 if r.country %}, {{ r.country }}{% else %}, {{ t.no_country }}{% endif %}{% if r.transfer
 %}, {{ r.transfer }}{% elif r.third_country %}, {{ t.no_safeguard }}{% endif
 %}){% if not loop.last %}; {% endif %}{% else %}{{ t.not_stated }}{% endfor %}</dd>
<dt>{{ t.retention }}</dt><dd>{{ p.retention | join("; ") or t.not_stated }}</dd>
<dt>{{ t.rights }}</dt><dd>{{ p.rights | join(", ") }}</dd>
{% if p.automated %}<dt>{{ t.automated }}</dt><dd>{{ p.automated }}</dd>{% endif %}
</dl></section>{% endfor %}
<h2>{{ t.complaint }}</h2>
<p>{{ complaint }}</p>
<h2>{{ t.data }}</h2>
<table>{% for table, n in counts.items() %}<tr><td>{{ table }}</td><td>{{ n }} {{ t.rows }}</td>
</tr>{% endfor %}</table>
<p>{{ t.redacted }}</p>
{% if manual %}<h2>{{ t.manual }}</h2>
<p>{{ t.manual_text }}</p>
<ul>{% for m in manual %}<li>{{ m.dataset }} ({{ m.processor or t.no_processor }}): {% if
 m.state == "done" %}{{ t.answered }}{% if m.note %}: {{ m.note }}{% endif %}{% else %}{{
 t.unanswered }}{% endif %}</li>{% endfor %}</ul>{% endif %}
</body></html>
"""


@functools.cache
def _summary_template() -> Template:
    """The summary's template, compiled once a process: compiling it anew each time was a
    fifth of an access request (py-spy, docs/performance.md)."""
    from jinja2 import Environment

    return Environment(autoescape=True).from_string(_SUMMARY)


def render_summary(info: dict[str, Any], counts: dict[str, int], generated: datetime,
                   lang: str, manual: Sequence[dict[str, Any]] = ()) -> str:
    """The readable HTML of the Art. 15 information, what data was found, and the manual
    datasets whose data is handed over separately (``access.manual_datasets``)."""
    t = LABELS[lang]
    a = info["complaint"]
    complaint = t["complaint_text"].format(name=a["authority"], address=a["address"],
                                           url=a["complaint_url"])
    return _summary_template().render(t=t, info=info, counts=counts, lang=lang,
                                            generated=generated.isoformat(timespec="minutes"),
                                            complaint=complaint, manual=manual)

