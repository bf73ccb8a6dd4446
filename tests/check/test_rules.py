"""Each rule of ``personvern check`` fires on the manifest fault it names, and only then.

The base is the blank starter (``personvern init``), which must be clean; each case
breaks one thing and expects its rule, at the right place, citing its source.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from personvern.check import RULES, run_checks
from personvern.check.engine import Finding, has_errors
from personvern.manifest.loader import parse_manifest
from personvern.manifest.yamlpos import load_with_positions
from personvern.templates import template_text

Data = dict[str, Any]


def base() -> Data:
    """The blank template as data: a manifest with no findings at all."""
    data: Data = load_with_positions(template_text("blank"))[0]
    return data


def findings_for(data: Data) -> list[Finding]:
    return run_checks(parse_manifest(yaml.safe_dump(data, allow_unicode=True), file="m.yaml"))


def purpose(data: Data, **changes: Any) -> Data:
    data["purposes"][0].update(changes)
    return data


def add_purpose(data: Data, **fields: Any) -> Data:
    new = copy.deepcopy(data["purposes"][0])
    new.update({"id": "extra", "necessary_for_service": False}, **fields)
    data["purposes"].append(new)
    return data


def recipient(data: Data, **changes: Any) -> Data:
    data["recipients"][0].update(changes)
    return data


def cookies(data: Data, category: str, **consent: Any) -> Data:
    data["cookies"] = [{
        "name": "_fbp", "provider": "Meta", "category": category, "lifetime": "90 days",
        "purpose": {"nb": "Måle annonser", "en": "Measure ads"},
    }]
    if consent:
        data["cookie_consent"] = consent
    return data


def bookkeeping(data: Data, trigger: str, duration: str) -> Data:
    data["retention"].append({
        "id": "books", "trigger": trigger, "duration": duration, "action": "restrict",
        "bookkeeping": True, "statute": "bokføringsloven § 13",
    })
    return add_purpose(
        data, legal_basis="legal_obligation", retention="books",
        legal_obligation={"statute": "bokføringsloven § 13"},
        categories=["user.payment"],
    )


def marketing(data: Data, **mk: Any) -> Data:
    return add_purpose(
        data, legal_basis="legitimate_interests",
        legitimate_interest={"interest": "Selge mer", "balancing": "Lite inngripende"},
        marketing={"channels": ["email"], **mk},
    )


def children(data: Data) -> Data:
    data["subjects"][0]["includes_children"] = True
    return data


def optimal(data: Data) -> Data:
    """ekomloven § 3-15: seed 004's "necessary" cookie that makes the site work optimally."""
    data["cookies"][0]["purpose"] = {"nb": "Får siden til å fungere optimalt",
                                     "en": "Makes the site work optimally"}
    return data


def promise(kind: str, *purposes: str) -> Data:
    """A ``commitments:`` section with one commitment of ``kind``."""
    item: Data = {"kind": kind}
    if purposes:
        item["purposes"] = list(purposes)
    return {"commitments": [item]}


# (rule, what breaks it, path expected in the finding)
CASES: list[tuple[str, Callable[[Data], Data], str]] = [
    ("PV001", lambda d: purpose(d, legal_basis=None), "purposes[0].id"),
    ("PV002", lambda d: purpose(d, legal_basis="consent"), "purposes[0].legal_basis"),
    ("PV003", lambda d: purpose(d, legal_basis="legitimate_interests"), "purposes[0].legal_basis"),
    ("PV004", lambda d: purpose(d, legal_basis="legitimate_interests",
                                legitimate_interest={"interest": "Forbedre tjenesten"}),
     "purposes[0].legitimate_interest"),
    ("PV005", lambda d: purpose(d, legal_basis="legal_obligation"), "purposes[0].legal_basis"),
    ("PV006", lambda d: recipient(d, country="US"), "recipients[0].country"),
    ("PV007", lambda d: recipient(d, country="US", role="controller",
                                  transfer={"mechanism": "contract_derogation"}),
     "recipients[0].transfer"),
    ("PV008", lambda d: recipient(d, country=None), "recipients[0].name"),
    ("PV009", lambda d: purpose(d, retention=[]), "purposes[0].id"),
    ("PV010", lambda d: d["retention"][0].update(duration="unlimited") or d,
     "retention[0].duration"),
    ("PV011", lambda d: bookkeeping(d, "payment_settled", "5 years"), "retention[1].duration"),
    ("PV012", lambda d: purpose(d, categories=["user.health"]), "purposes[0].categories"),
    ("PV013", lambda d: add_purpose(
        d | {"children": {"present": True}}, legal_basis="consent",
        consent={"how_to_withdraw": "I appen"}), "purposes[1].legal_basis"),
    ("PV014", marketing, "purposes[1].marketing"),
    ("PV015", lambda d: marketing(d, existing_customer_exception=True), "purposes[1].marketing"),
    ("PV016", lambda d: cookies(d, "marketing"), "cookies[0].category"),
    ("PV017", lambda d: cookies(d, "marketing", mechanism="checkboxes",
                                withdraw="browser_settings", reject_as_easy_as_accept=True),
     "cookie_consent.withdraw"),
    ("PV018", lambda d: d["rights"].update(deadline={"months": 2}) or d, "rights.deadline"),
    ("PV019", lambda d: recipient(d, dpa_signed=None), "recipients[0].name"),
    ("PV020", lambda d: d["controller"].pop("email") and d["controller"].pop("address") and d,
     "controller"),
    ("PV021", lambda d: d["controller"].pop("privacy_contact") and d, "controller"),
    ("PV022", lambda d: d["rights"].update(channels=[]) or d, "rights.channels"),
    ("PV023", lambda d: d["rights"]["offered"].append("objection") or d, "rights.offered"),
    ("PV024", lambda d: d["rights"]["offered"].remove("restriction") or d, "rights.offered"),
    ("PV025", lambda d: add_purpose(d, legal_basis="consent"), "purposes[1].legal_basis"),
    ("PV026", lambda d: purpose(d, categories=[]), "purposes[0].id"),
    ("PV027", lambda d: purpose(d, recipients=[]), "recipients[0].id"),
    ("PV028", lambda d: add_purpose(
        d, legal_basis="legitimate_interests",
        legitimate_interest={"interest": "Svindel", "balancing": "Nødvendig"},
        automated_decisions={"legal_or_similar_effect": True}), "purposes[1].automated_decisions"),
    ("PV029", lambda d: d["recipients"][0].pop("sub_processors") and d, "recipients[0].name"),
    ("PV030", lambda d: recipient(d, role="joint_controller"), "recipients[0].role"),
    ("PV031", lambda d: purpose(d, name={"nb": "Levere tjenesten"}), "purposes[0].name"),
    ("PV032", lambda d: cookies(d, "necessary") and d["cookies"][0].pop("lifetime") and d,
     "cookies[0].name"),
    ("PV033", lambda d: d.pop("policy_changes") and d, "policy_changes"),
    ("PV034", lambda d: marketing(d, existing_customer_exception=True, opt_out_at_collection=True,
                                  opt_out_in_every_message=True), "purposes[1].marketing"),
    ("PV035", lambda d: purpose(d, legal_basis="contract", categories=["user.health"],
                                special_categories={"condition": "explicit_consent"}),
     "purposes[0].special_categories"),
    ("PV036", lambda d: d.pop("security") and d, "personvern"),
    ("PV037", lambda d: d.update(categories=[{"id": "user.demographic.gender"}]) or d,
     "categories[0].id"),
    ("PV038", lambda d: d.update(children={"present": True, "guardian_consent": True}) or d,
     "children.guardian_consent"),
    ("PV039", lambda d: add_purpose(d, legal_basis="consent",
                                    consent={"bundled": True, "how_to_withdraw": "I appen"}),
     "purposes[1].consent"),
    ("PV040", lambda d: d["retention"][0].update(trigger="purpose_fulfilled") or d,
     "retention[0].trigger"),
    ("PV041", lambda d: d.update(datasets=[{"id": "app"}]) or d, "datasets[0].id"),
    ("PV050", lambda d: d.update(purposes=[]) or d, "personvern"),
    ("PV051", lambda d: d["controller"].update(dpo={"name": "Ola Ombud"}) or d,
     "controller.dpo"),
    ("PV052", lambda d: add_purpose(d, legal_basis="contract", automated_decisions={
        "legal_or_similar_effect": True, "human_review": True}),
     "purposes[1].automated_decisions"),
    ("PV053", lambda d: add_purpose(d, third_party_sharing=True, recipients=[]),
     "purposes[1].third_party_sharing"),
    ("PV060", lambda d: purpose(d, legal_basis="contract", necessary_for_service=False),
     "purposes[0].necessary_for_service"),
    ("PV061", lambda d: add_purpose(d, legal_basis="vital_interests"), "purposes[1].id"),
    ("PV062", lambda d: recipient(d, note="<b>Ask</b> about the DPA"), "recipients[0].note"),
    ("PV063", lambda d: recipient(d, country="US", transfer={"mechanism": "consent_derogation"}),
     "recipients[0].transfer"),
    ("PV064", lambda d: recipient(d, country="US", role="controller",
                                  transfer={"mechanism": "consent_derogation"}),
     "recipients[0].transfer"),
    ("PV065", lambda d: recipient(d, country="US", transfer={"mechanism": "scc"})
     | {"no_third_country_transfers": True}, "no_third_country_transfers"),
    ("PV066", lambda d: d["controller"].update(dpo={"email": d["controller"]["email"]}) or d,
     "controller.dpo.email"),
    ("PV067", lambda d: d["subjects"][0].update(party_to_contract=False) or d,
     "purposes[0].legal_basis"),
    ("PV068", lambda d: purpose(d, improves_service=True), "purposes[0].legal_basis"),
    ("PV069", lambda d: purpose(children(d), profiling=True), "purposes[0].profiling"),
    ("PV070", lambda d: optimal(cookies(d, "necessary")), "cookies[0].purpose"),
    ("PV071", lambda d: purpose(d, categories=["user.payment"]), "recipients[0].role"),
    ("PV072", lambda d: d["retention"].append({"id": "gone", "trigger": "consent_withdrawn",
                                               "duration": "0 days"}) or add_purpose(
        d, legal_basis="legal_obligation", legal_obligation={"statute": "bokføringsloven § 13"},
        retention="gone"), "purposes[1].retention"),
    ("PV074", lambda d: d["recipients"][0].pop("role") and d, "recipients[0].name"),
    ("PV075", lambda d: purpose(d, profiling=True) | {"no_profiling": True}, "no_profiling"),
    ("PV073", lambda d: d["retention"].append({
        "id": "paid", "trigger": "payment_settled", "duration": "0 days",
        "plus_withdrawal_period": True}) or add_purpose(
        d, categories=["user.payment"], retention="paid"), "retention[1].trigger"),
    # The mapped table holds behaviour only: nothing of the purpose's name and e-mail.
    ("PV086", lambda d: d["datasets"][0]["tables"][0].update(columns=[
        {"name": "id", "identity": "user_id", "erase": "keep"},
        {"name": "seen_at", "categories": ["user.behavior"]}]) or d, "retention[0]"),
    ("PV087", lambda d: d.pop("datasets") and d, "purposes"),
    # A mapped table whose personal column no purpose uses: no rule reaches it.
    ("PV091", lambda d: d["datasets"][0]["tables"].append({
        "name": "notes", "columns": [{"name": "body", "categories": ["user.content.private"]}],
        "references": [{"column": "user_id", "to": d["datasets"][0]["tables"][0]["name"] + ".id"}],
    }) or d, "datasets[0].tables[1].name"),
    # A column holding, beside a purpose's category, one no purpose declares (a profile's
    # free text kept as "name"): reached by retention, but the policy never says it.
    ("PV092", lambda d: d["datasets"][0]["tables"][0]["columns"].append(
        {"name": "bio", "categories": ["user.name", "user.content.private"]}) or d,
     "datasets[0].tables[0].columns[3].name"),
    # A table with personal data no walk from an identity reaches (an address the user row
    # points at, not marked as its part): access and erasure never find it.
    ("PV093", lambda d: d["datasets"][0]["tables"].append({
        "name": "addresses", "columns": [{"name": "street",
                                          "categories": ["user.contact.address"]}]}) or d,
     "datasets[0].tables[1].name"),
    # The part of a row that stays (masked) deleted: the row would point at nothing.
    ("PV094", lambda d: d["datasets"][0]["tables"].append({
        "name": "addresses", "columns": [{"name": "street",
                                          "categories": ["user.contact.address"]}]}) or
     d["datasets"][0]["tables"][0].update(erase="mask", references=[
         {"column": "address_id", "to": "addresses.id", "part": True}]) or d,
     "datasets[0].tables[0].references[0].part"),
    # Declared commitments (issue 12, item 6), each contradicted by the manifest itself.
    ("PV076", lambda d: recipient(d, buys_data=True) | promise("never_sold"),
     "recipients[0].buys_data"),
    ("PV077", lambda d: recipient(d, role="controller") | promise("no_sharing_without_consent"),
     "purposes[0].legal_basis"),
    ("PV078", lambda d: purpose(d, profiling=True) | promise("aggregated_statistics", "service"),
     "purposes[0].id"),
    ("PV079", lambda d: d | promise("mutual_interest_sharing", "service"),
     "purposes[0].legal_basis"),
    ("PV088", lambda d: d | promise("signature_rights_verified"), "commitments[0].kind"),
    ("PV089", lambda d: d | promise("provision_voluntary"), "purposes[0].legal_basis"),
]


def test_base_manifest_is_clean() -> None:
    assert findings_for(base()) == []


def test_every_rule_has_a_case() -> None:
    """Manifest rules here; rules judged on the live data in test_drift.py, each by name."""
    assert sorted(r for r in RULES if not RULES[r].data) == sorted(rule for rule, _, _ in CASES)
    drift = (Path(__file__).parent / "test_drift.py").read_text(encoding="utf-8")
    assert [r for r in RULES if RULES[r].data and f'"{r}"' not in drift] == []


@pytest.mark.parametrize(("rule_id", "breaks", "path"), CASES, ids=[c[0] for c in CASES])
def test_rule_fires_on_its_fault(
    rule_id: str, breaks: Callable[[Data], Data], path: str
) -> None:
    found = [f for f in findings_for(breaks(base())) if f.rule == rule_id]
    assert found, f"{rule_id} did not fire"
    assert found[0].path == path
    assert found[0].source == RULES[rule_id].source
    assert found[0].line >= 1
    assert found[0].severity == RULES[rule_id].severity


def test_errors_decide_the_exit() -> None:
    assert not has_errors(findings_for(base()))
    assert has_errors(findings_for(purpose(base(), legal_basis=None)))


def test_finding_points_at_the_line_in_the_file() -> None:
    text = template_text("blank").replace("legal_basis: contract", "legal_basis: consent")
    loaded = parse_manifest(text, file="m.yaml")
    pv002 = next(f for f in run_checks(loaded) if f.rule == "PV002")
    line = text.splitlines()[pv002.line - 1]
    assert "legal_basis: consent" in line


def test_bookkeeping_counted_from_fiscal_year_end_is_enough() -> None:
    """bokføringsloven § 13: five years after the end of the fiscal year is compliant."""
    ok = findings_for(bookkeeping(base(), "fiscal_year_end", "5 years"))
    assert "PV011" not in {f.rule for f in ok}
    short = findings_for(bookkeeping(base(), "fiscal_year_end", "3 years 6 months"))
    assert "PV011" in {f.rule for f in short}


def test_transfer_to_adequate_country_or_under_scc_is_fine() -> None:
    """GDPR Art. 45 (adequacy: Japan) and Art. 46(2)(c) (standard contractual clauses)."""
    for change in ({"country": "JP", "transfer": {"mechanism": "adequacy"}},
                   {"country": "US", "transfer": {"mechanism": "scc"}},
                   {"country": "US", "transfer": {"mechanism": "dpf"}}):
        found = findings_for(recipient(base(), **change))
        assert "PV006" not in {f.rule for f in found}, change
    claimed = findings_for(recipient(base(), country="CN", transfer={"mechanism": "adequacy"}))
    assert any(f.rule == "PV006" and "no adequacy decision" in f.message for f in claimed)


def test_guardian_consent_path_satisfies_children_rule() -> None:
    """GDPR Art. 8 / personopplysningsloven § 5: a guardian-consent path removes PV013."""
    data = add_purpose(base() | {"children": {"present": True, "guardian_consent": True}},
                       legal_basis="consent", consent={"how_to_withdraw": "I appen"})
    assert "PV013" not in {f.rule for f in findings_for(data)}


def test_child_age_message_uses_jurisdiction_age() -> None:
    """personopplysningsloven § 5 sets 13; a manifest may set a stricter age (2025 hearing: 15)."""
    data = add_purpose(base() | {"children": {"present": True}}, legal_basis="consent",
                       consent={"how_to_withdraw": "I appen"})
    assert "under 13" in next(f.message for f in findings_for(data) if f.rule == "PV013")
    data["jurisdiction"]["child_consent_age"] = 15
    assert "under 15" in next(f.message for f in findings_for(data) if f.rule == "PV013")


def test_customer_exception_with_opt_outs_is_lawful_marketing() -> None:
    """markedsføringsloven § 15: existing customers, opt-out at collection and in every message."""
    data = marketing(base(), existing_customer_exception=True, opt_out_at_collection=True,
                     opt_out_in_every_message=True, similar_products_only=True)
    data["rights"]["offered"].append("objection")
    rules = {f.rule for f in findings_for(data)}
    assert not rules & {"PV014", "PV015", "PV034"}


@pytest.mark.parametrize(("deadline", "fires"), [
    ({"months": 1}, False), ({"working_days": 14}, False), ({"days": 28}, False),
    ({"days": 30}, True), ({"working_days": 25}, True),
])
def test_response_deadline_against_one_month(deadline: dict[str, int], fires: bool) -> None:
    """GDPR Art. 12(3): one month; seed 001's 14 working days is a stricter promise."""
    data = base()
    data["rights"]["deadline"] = deadline
    assert ("PV018" in {f.rule for f in findings_for(data)}) is fires


def test_marketing_without_a_named_channel_may_be_electronic() -> None:
    """markedsføringsloven § 15: a policy that names no channel is read as possibly e-mail."""
    found = findings_for(marketing(base(), channels=[]))
    pv014 = next(f for f in found if f.rule == "PV014")
    assert "unstated channels" in pv014.message


def test_several_retention_rules_per_purpose() -> None:
    """A datum lives until the last of its rules ends; each id must exist."""
    data = base()
    data["retention"].append({"id": "withdrawn", "trigger": "consent_withdrawn",
                              "duration": "0 days"})
    data["purposes"][0]["retention"] = ["account", "withdrawn"]
    loaded = parse_manifest(yaml.safe_dump(data, allow_unicode=True), file="m.yaml")
    assert loaded.manifest.purposes[0].retention == ["account", "withdrawn"]


def test_required_answer_must_agree_with_the_basis() -> None:
    """GDPR Art. 6(1)(b): contract covers only what the contract needs; Art. 7(4): consent
    the person cannot refuse is not free. Either contradiction is an error, not two
    sentences in the policy."""
    said_optional = findings_for(purpose(base(), legal_basis="contract", required=False))
    pv060 = [f for f in said_optional if f.rule == "PV060"]
    assert pv060 and pv060[0].severity == "error" and pv060[0].path == "purposes[0].required"
    forced = findings_for(add_purpose(base(), legal_basis="consent", required=True,
                                      consent={"how_to_withdraw": "I appen"}))
    assert any(f.rule == "PV060" and "not free (Art. 7(4))" in f.message for f in forced)
    agreeing = findings_for(purpose(base(), legal_basis="contract", required=True))
    assert "PV060" not in {f.rule for f in agreeing}


def test_an_author_note_is_shown_as_written() -> None:
    """A note is the author's; `check` shows it verbatim (HTML and all), as a note only."""
    found = findings_for(recipient(base(), note="<b>Ask</b> about the DPA"))
    note = next(f for f in found if f.rule == "PV062")
    assert note.message == "note: <b>Ask</b> about the DPA" and note.severity == "info"


def test_recipient_without_country_is_an_error() -> None:
    """GDPR Art. 13(1)(f), 30(1)(e): whether data leaves the EEA needs every country."""
    found = [f for f in findings_for(recipient(base(), country=None)) if f.rule == "PV008"]
    assert found and found[0].severity == "error"
    assert "nobody can tell whether it leaves the EEA" in found[0].message


def test_consent_for_a_processors_transfers_is_an_error_not_a_warning() -> None:
    """EDPB Guidelines 2/2018: Art. 49 consent is for occasional transfers, not a service."""
    found = findings_for(recipient(base(), country="US",
                                   transfer={"mechanism": "consent_derogation"}))
    rules = {f.rule: f.severity for f in found}
    assert rules.get("PV063") == "error" and "PV007" not in rules


def test_informed_explicit_consent_to_an_occasional_transfer() -> None:
    """Art. 49(1)(a): explicit, told of the risks; then only PV007's reminder remains."""
    data = add_purpose(base(), legal_basis="consent", recipients=["hosting"],
                       consent={"explicit": True, "how_to_withdraw": "I appen"})
    data["purposes"][0]["recipients"] = []
    recipient(data, country="US", role="controller",
              transfer={"mechanism": "consent_derogation", "risks_stated": True})
    rules = {f.rule for f in findings_for(data)}
    assert "PV064" not in rules and "PV063" not in rules and "PV007" in rules


def test_no_transfers_statement_true_of_eea_recipients() -> None:
    data = base() | {"no_third_country_transfers": True}
    assert "PV065" not in {f.rule for f in findings_for(data)}


def test_as_long_as_necessary_with_a_criterion_is_enough() -> None:
    """Art. 13(2)(a): "the criteria used to determine that period" may replace a period."""
    data = base()
    data["retention"][0].update(trigger="purpose_fulfilled", criterion={
        "nb": "Når kurset du har kjøpt, er avsluttet", "en": "When the course you bought ends"})
    assert "PV040" not in {f.rule for f in findings_for(data)}
    data["retention"][0].pop("criterion")
    found = [f for f in findings_for(data) if f.rule == "PV040"]
    assert found and found[0].severity == "error"


def test_statute_not_named_is_a_warning() -> None:
    """GDPR Art. 6(3): the obligation must exist in law; the notice need not cite it."""
    found = findings_for(purpose(base(), legal_basis="legal_obligation"))
    pv005 = next(f for f in found if f.rule == "PV005")
    assert pv005.severity == "warning"


def test_rule_sources_cite_what_the_rule_is_about() -> None:
    """Art. 13(1)(b) is the DPO's contact only; Art. 13(3) is about new purposes."""
    assert "13(1)(b)" not in RULES["PV021"].source
    assert "13(3)" not in RULES["PV033"].source
    assert "does not depend on the legal basis" in " ".join(RULES["PV023"].explanation.split())


def test_human_review_offered_without_automated_decisions() -> None:
    """Art. 22: the right exists where such decisions are made, whatever the basis."""
    data = base()
    data["rights"]["offered"].append("human_review")
    pv023 = next(f for f in findings_for(data) if f.rule == "PV023")
    assert "no purpose makes decisions based solely on automated processing" in pv023.message
    decided = purpose(base(), automated_decisions={"legal_or_similar_effect": True,
                                                   "human_review": True,
                                                   "logic": {"nb": "Regler", "en": "Rules"}})
    decided["rights"]["offered"].append("human_review")
    assert "PV023" not in {f.rule for f in findings_for(decided)}


@pytest.mark.parametrize(("deadline", "fires"), [
    ({"virkedager": 14}, False), ({"virkedager": 21}, False), ({"virkedager": 22}, True),
    ({"working_days": 17}, False), ({"working_days": 18}, True),
])
def test_promise_in_virkedager_against_one_month(deadline: dict[str, int], fires: bool) -> None:
    """GDPR Art. 12(3), ferieloven § 5(1): Saturdays are virkedager, so more fit a month."""
    data = base()
    data["rights"]["deadline"] = deadline
    assert ("PV018" in {f.rule for f in findings_for(data)}) is fires


def test_a_commitment_the_manifest_keeps_is_only_noted_as_declared() -> None:
    """Seed 000's "vil ikke overføre personopplysninger til andre aktører uten at du på
    forhånd aktivt har samtykket ..., eller SnapMentor er rettslig forpliktet": disclosure to
    the authorities on a legal obligation and a processor on contract keep the promise, and
    the note says what Personvern checks of it and what it cannot."""
    data = base() | promise("no_sharing_without_consent")
    data["recipients"].append({"id": "police", "name": "Politiet", "role": "public_authority",
                               "service": "Utlevering etter pålegg", "country": "NO"})
    data = add_purpose(data, legal_basis="legal_obligation", recipients=["police"],
                       legal_obligation={"statute": "straffeprosessloven § 210"})
    found = findings_for(data)
    assert [f.rule for f in found if f.rule in ("PV077", "PV088")] == ["PV088"]
    [note] = [f for f in found if f.rule == "PV088"]
    assert note.severity == "info" and "disclosures the manifest does not declare" in note.message


def test_every_commitment_says_what_personvern_does_not_enforce() -> None:
    """No promise is silently claimed: one note per commitment, each naming what stays the
    controller's word (Art. 5(2))."""
    from personvern.check.rules.commitments import STATUS
    from personvern.manifest.model import CommitmentKind

    kinds = list(CommitmentKind.__args__)  # type: ignore[attr-defined]
    assert sorted(STATUS) == sorted(kinds)
    data = base()
    data["commitments"] = [{"kind": k, "purposes": ["service"]} for k in kinds]
    notes = [f for f in findings_for(data) if f.rule == "PV088"]
    assert [n.path for n in notes] == [f"commitments[{i}].kind" for i in range(len(kinds))]
    assert all("Personvern" in n.message for n in notes)


def test_statistics_on_processors_only_and_without_profiling_pass() -> None:
    found = findings_for(base() | promise("aggregated_statistics", "service"))
    assert [f.rule for f in found] == ["PV088"]


def test_a_category_no_purpose_declares_is_said_once_with_every_column_holding_it() -> None:
    """PV092 names each undeclared category once, with all its columns; a table no purpose
    reaches at all is PV091's alone."""
    d = base()
    users = d["datasets"][0]["tables"][0]
    users["columns"] += [{"name": "bio", "categories": ["user.name", "user.content.private"]},
                         {"name": "motto", "categories": ["user.content.private"]}]
    d["datasets"][0]["tables"].append({
        "name": "notes", "columns": [{"name": "body", "categories": ["user.content.private"]}],
        "references": [{"column": "user_id", "to": "users.id"}]})
    found = [f for f in findings_for(d) if f.rule == "PV092"]
    assert len(found) == 1
    assert "app.users.bio, app.users.motto" in found[0].message
    assert "app.notes" not in found[0].message
    assert [f.path for f in findings_for(d) if f.rule == "PV091"] == ["datasets[0].tables[1].name"]
    # Declared by a purpose: nothing to say.
    d["purposes"][0]["categories"].append("user.content.private")
    assert not [f for f in findings_for(d) if f.rule in {"PV091", "PV092"}]


def test_a_part_brings_its_table_within_reach() -> None:
    """PV093 says what the walk cannot reach; marking the user's reference to it as a part
    (``part: true``) brings it in, and PV094 asks that a kept row's part be masked."""
    d = base()
    d["datasets"][0]["tables"].append({
        "name": "addresses", "columns": [{"name": "street",
                                          "categories": ["user.contact.address"]}]})
    assert "PV093" in {f.rule for f in findings_for(d)}
    d["datasets"][0]["tables"][0]["references"] = [
        {"column": "address_id", "to": "addresses.id", "part": True}]
    assert not {"PV093", "PV094"} & {f.rule for f in findings_for(d)}
    d["datasets"][0]["tables"][0]["erase"] = "mask"
    assert "PV094" in {f.rule for f in findings_for(d)}
    d["datasets"][0]["tables"][1]["erase"] = "mask"
    assert "PV094" not in {f.rule for f in findings_for(d)}
