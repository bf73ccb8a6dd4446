"""Plain-language diffs between versions, each change classified material or not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from personvern.policy.diff import Change, diff
from policy.support import example_data, manifest_from

Data = dict[str, Any]


def changes(edit: Callable[[Data], None], name: str = "teoritentamen",
            before: Callable[[Data], None] | None = None) -> list[Change]:
    old = example_data(name)
    new = example_data(name)
    for d in (old, new):
        if before is not None:
            before(d)
    edit(new)
    return diff(manifest_from(old), manifest_from(new))


def one(edit: Callable[[Data], None], name: str = "teoritentamen",
        before: Callable[[Data], None] | None = None) -> Change:
    found = changes(edit, name, before)
    assert len(found) == 1, [c.en for c in found]
    return found[0]


def add_sentry(d: Data) -> None:
    d["recipients"].append({
        "id": "sentry", "name": "Sentry", "role": "processor", "country": "US",
        "service": {"nb": "Feilrapporter", "en": "Error reports"},
        "transfer": {"mechanism": "scc"}, "dpa_signed": True, "sub_processors":
        "general_authorisation",
    })
    d["purposes"][0]["recipients"] = ["sentry"]


def test_new_processor_in_a_third_country() -> None:
    c = one(add_sentry)
    assert c.nb == "ny databehandler: Sentry (USA, standardkontraktsklausuler)"
    assert c.en == "new processor: Sentry (USA, standard contractual clauses)"
    assert c.material and c.kind == "recipient_added"
    assert c.purposes == ("service",) and not c.consent   # the service rests on contract


def test_longer_and_shorter_retention() -> None:
    def rule(duration: str) -> Callable[[Data], None]:
        def edit(d: Data) -> None:
            d["retention"][0] = {"id": "as_long_as_needed", "trigger": "last_activity",
                                 "duration": duration}
        return edit

    old, new = example_data("teoritentamen"), example_data("teoritentamen")
    rule("2 years")(old)
    rule("3 years")(new)
    longer = diff(manifest_from(old), manifest_from(new))
    assert len(longer) == 1 and longer[0].material
    assert longer[0].nb.endswith("lagres i 3 år i stedet for 2 etter siste aktivitet")
    assert longer[0].en.endswith("kept 3 years instead of 2 after your last activity")
    assert longer[0].nb.startswith("«Levering av tjenesten», «Forbedring av tjenesten»")
    shorter = diff(manifest_from(new), manifest_from(old))
    assert len(shorter) == 1 and not shorter[0].material
    assert "lagres i 2 år i stedet for 3" in shorter[0].nb


def test_retention_with_another_trigger_is_explained_in_full() -> None:
    def edit(d: Data) -> None:
        d["retention"][2].update(trigger="last_activity", duration="18 months")
    c = one(edit)
    assert c.material and c.consent      # the cookie and pixel purposes rest on consent
    assert "slettes 18 måneder etter siste aktivitet" in c.nb
    assert "i stedet for «slettes når du trekker samtykket»" in c.nb


@pytest.mark.parametrize(("edit", "kind", "material", "nb", "en"), [
    (lambda d: d["purposes"].append({
        "id": "newsletter", "name": {"nb": "Nyhetsbrev", "en": "Newsletter"},
        "legal_basis": "consent", "categories": ["user.contact.email"],
        "retention": "consent_withdrawn"}),
     "purpose_added", True, "nytt formål: «Nyhetsbrev» (samtykke)",
     "new purpose: “Newsletter” (consent)"),
    (lambda d: d["purposes"].pop(1), "purpose_removed", False,
     "formålet «Forbedring av tjenesten» er fjernet",
     "the purpose “Improving the service” has been removed"),
    (lambda d: d["purposes"][1].update(
        legal_basis="legitimate_interests",
        legitimate_interest={"interest": {"nb": "Bedre tjeneste", "en": "A better service"}}),
     "basis_changed", True,
     "«Forbedring av tjenesten» bygger nå på berettiget interesse i stedet for avtale med deg",
     "“Improving the service” now rests on legitimate interests instead of contract with you"),
    (lambda d: d["purposes"][1]["categories"].append("user.location"), "category_added", True,
     "«Forbedring av tjenesten» bruker nå også posisjon",
     "“Improving the service” now also uses location"),
    (lambda d: d["purposes"][0]["categories"].remove("user.demographic.date_of_birth"),
     "category_removed", False, "«Levering av tjenesten» bruker ikke lenger fødselsdato",
     "“Providing the service” no longer uses date of birth"),
    (lambda d: d["recipients"][0].update(country="IN", transfer={"mechanism": "scc"}),
     "third_country", True,
     "Nets behandler nå opplysninger i India (standardkontraktsklausuler)",
     "Nets now processes data in India (standard contractual clauses)"),
    (lambda d: d["recipients"][0].update(country="DK"), "country_changed", False,
     "Nets behandler nå opplysninger i Danmark i stedet for land ikke oppgitt",
     "Nets now processes data in Denmark instead of country not stated"),
    (lambda d: d["controller"].update(email="personvern@teoritentamen.no"), "contact_changed",
     False, "nye kontaktopplysninger: personvern@teoritentamen.no",
     "new contact details: personvern@teoritentamen.no"),
    (lambda d: d["purposes"][0].update(description={"nb": "Ny tekst", "en": "New text"}),
     "wording", False, "teksten om «Levering av tjenesten» er endret",
     "the text about “Providing the service” has changed"),
    (lambda d: d["purposes"][1].update(profiling=True), "profiling_added", True,
     "«Forbedring av tjenesten» bruker nå profilering",
     "“Improving the service” now uses profiling"),
    (lambda d: d["purposes"][7]["marketing"]["channels"].append("push"), "marketing_channels",
     True, "«Elektronisk markedsføring til kunder» sender nå også markedsføring via push-varsler",
     "“Electronic marketing to customers” now also markets by push notifications"),
    (lambda d: d["cookies"].append({"name": "_ga", "provider": "Google", "category":
                                    "statistics", "lifetime": "2 years",
                                    "purpose": {"nb": "Statistikk", "en": "Statistics"}}),
     "cookie_added", True, "ny informasjonskapsel: _ga fra Google (statistikk)",
     "new cookie: _ga from Google (statistics)"),
    (lambda d: d["rights"].update(deadline={"days": 20}), "deadline_changed", False,
     "svarfristen er nå 20 dager i stedet for én måned",
     "we now answer within 20 days instead of one month"),
    (lambda d: d["policy_changes"].update(notice_days=14), "notice_changed", False,
     "endringer varsles nå 14 dager i stedet for sju dager før de trer i kraft",
     "changes are now announced 14 days instead of seven days before they take effect"),
])
def test_change_kinds(edit: Callable[[Data], None], kind: str, material: bool, nb: str,
                      en: str) -> None:
    c = one(edit)
    assert (c.kind, c.material, c.nb, c.en) == (kind, material, nb, en)


def test_consent_flag_marks_material_changes_to_consent_purposes() -> None:
    c = one(lambda d: d["purposes"][5]["categories"].append("user.contact.email"))
    assert c.material and c.consent and c.purposes == ("marketing_cookies",)
    c = one(lambda d: d["purposes"][5]["categories"].remove("user.device.ip_address"))
    assert not c.material and not c.consent
    c = one(lambda d: d["controller"].update(orgnr="923456783"), before=with_orgnr)
    assert c.consent and set(c.purposes) == {"marketing_cookies", "ad_pixels"}


def with_orgnr(d: Data) -> None:
    """Seed 004 gives no organisasjonsnummer; these tests need one (a valid, issued one)."""
    d["controller"]["orgnr"] = "927683172"


def test_another_orgnr_is_another_controller() -> None:
    c = one(lambda d: d["controller"].update(orgnr="923456783"), before=with_orgnr)
    assert (c.kind, c.material, c.nb, c.en) == (
        "controller_changed", True,
        "ny behandlingsansvarlig: Lime Green Digital AS (organisasjonsnummer 923456783)",
        "new controller: Lime Green Digital AS (organisation number 923456783)")
    # A number given where none was is no new controller: the same company, now identified.
    added = changes(lambda d: d["controller"].update(orgnr="923456783"))
    assert all(x.kind != "controller_changed" for x in added)


def test_recipient_newly_used_by_a_purpose() -> None:
    c = one(lambda d: d["purposes"][2]["recipients"].append("meta"))
    assert c.material and c.nb == "Meta (Facebook Ads, Instagram Ads) får nå også opplysninger " \
        "til «Betaling»"


def test_identical_manifests_have_no_changes_and_round_trip() -> None:
    m = manifest_from(example_data("snapmentor"))
    assert diff(m, m) == []
    found = changes(add_sentry)
    assert [Change.from_dict(c.as_dict()) for c in found] == found


def test_several_changes_at_once() -> None:
    def edit(d: Data) -> None:
        add_sentry(d)
        d["controller"]["phone"] = "+47 22 33 44 55"
        d["purposes"].pop(1)
    found = changes(edit)
    assert [c.kind for c in found] == ["contact_changed", "purpose_removed", "recipient_added"]
    assert [c.material for c in found] == [False, False, True]


def test_a_commitment_withdrawn_is_material_and_one_added_is_not() -> None:
    """A promise people relied on ("we store no card details") taken back is a change they
    would want to know of before it happens; a new promise is not."""
    withdrawn = one(lambda d: d.pop("commitments"))
    assert withdrawn.kind == "commitment_withdrawn" and withdrawn.material
    assert withdrawn.nb == "en forpliktelse er trukket tilbake: Teoritentamen lagrer ingen " \
                           "kortinformasjon"
    assert withdrawn.en == "a commitment is withdrawn: Teoritentamen stores no card details"
    added = one(lambda d: d["commitments"].append({"kind": "never_sold"}))
    assert added.kind == "commitment_added" and not added.material
    assert added.en == "a new commitment: We do not sell your personal data"
    reworded = one(lambda d: d["commitments"][0].update(
        text={"nb": "Vi lagrer aldri kort.", "en": "We never store cards."}))
    assert reworded.kind == "commitment_changed" and not reworded.material
    assert reworded.nb == "en forpliktelse er omformulert: Vi lagrer aldri kort"


def test_art13_1_e_a_new_recipient_whose_role_is_not_stated_is_not_called_a_processor() -> None:
    # The notice of changes goes to every subject: "new processor" would be a claim about
    # an agreement (Art. 28) the manifest never mentions.
    def edit(d: Data) -> None:
        add_sentry(d)
        del d["recipients"][-1]["role"]
    c = one(edit)
    assert c.en == "new recipient: Sentry (USA, standard contractual clauses)"
    assert c.nb == "ny mottaker: Sentry (USA, standardkontraktsklausuler)"
    assert c.material


def test_art13_1_e_a_role_now_stated_is_told_without_inventing_the_old_one() -> None:
    def unstated(d: Data) -> None:
        add_sentry(d)
        del d["recipients"][-1]["role"]

    def stated(d: Data) -> None:
        d["recipients"][-1]["role"] = "processor"
    c = one(stated, before=unstated)
    assert c.en == "Sentry is now a processor instead of a recipient whose role was not stated"
    assert c.nb == "Sentry er nå databehandler i stedet for mottaker uten oppgitt rolle"
    def unstate(d: Data) -> None:
        del d["recipients"][-1]["role"]
    dropped = one(unstate, before=add_sentry)
    assert dropped.en == "Sentry: its role (processor) is no longer stated"
    assert dropped.nb == "Sentry: rollen (databehandler) er ikke lenger oppgitt"
