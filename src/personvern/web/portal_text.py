"""The portal's texts in bokmål and English (added to the catalogue in personvern.web.i18n)."""

from __future__ import annotations

from collections.abc import Callable

from personvern.errors import PersonvernError
from personvern.requests.information import LABELS
from personvern.web.i18n import add_messages

MESSAGES: dict[str, dict[str, str]] = {
    "portal": {"nb": "Personvernportalen", "en": "Privacy portal"},
    "sign_in": {"nb": "Logg inn", "en": "Sign in"},
    "sign_in_intro": {
        "nb": "Skriv e-postadressen du bruker hos oss. Vi sender deg en lenke som logger deg "
              "inn. Lenken virker én gang, i 15 minutter.",
        "en": "Enter the e-mail address you use with us. We will send you a link that signs "
              "you in. The link works once, for 15 minutes.",
    },
    "email": {"nb": "E-postadresse", "en": "E-mail address"},
    "send_link": {"nb": "Send meg en innloggingslenke", "en": "Send me a sign-in link"},
    "sign_in_bad_email": {"nb": "Skriv en e-postadresse, for eksempel navn@example.no.",
                          "en": "Enter an e-mail address, for example name@example.no."},
    "sign_in_off_title": {"nb": "Innlogging med e-post er ikke satt opp",
                          "en": "Sign-in by e-mail is not configured"},
    "sign_in_off_text": {
        "nb": "Denne tjenesten kan ikke sende innloggingslenker ennå, fordi adressen lenkene "
              "skal peke til ikke er satt opp. Kontakt tjenesten for å få se eller endre "
              "opplysningene dine.",
        "en": "This service cannot send sign-in links yet, because the address the links "
              "should point to has not been configured. Contact the service to see or change "
              "your data.",
    },
    "there_is_a_problem": {"nb": "Det er et problem", "en": "There is a problem"},
    "sign_in_sent_title": {"nb": "Sjekk e-posten din", "en": "Check your e-mail"},
    "sign_in_sent_text": {
        "nb": "Hvis {email} er registrert hos oss, har vi sendt en innloggingslenke dit. "
              "Lenken virker i 15 minutter.",
        "en": "If {email} is registered with us, we have sent a sign-in link there. "
              "The link works for 15 minutes.",
    },
    "confirm_title": {"nb": "Logg inn", "en": "Sign in"},
    "confirm_text": {"nb": "Trykk på knappen for å logge inn.",
                     "en": "Press the button to sign in."},
    "bad_link_title": {"nb": "Lenken virker ikke", "en": "The link does not work"},
    "bad_link_unknown": {
        "nb": "Lenken er ikke gyldig. Kanskje ble den ikke kopiert helt? Be om en ny lenke.",
        "en": "The link is not valid. Perhaps it was not copied in full? Ask for a new link.",
    },
    "bad_link_used": {
        "nb": "Lenken er allerede brukt. Hver lenke virker bare én gang. Be om en ny lenke.",
        "en": "The link has already been used. Each link works only once. Ask for a new link.",
    },
    "bad_link_expired": {
        "nb": "Lenken er for gammel. Den virket i 15 minutter. Be om en ny lenke.",
        "en": "The link has expired. It worked for 15 minutes. Ask for a new link.",
    },
    "new_link": {"nb": "Be om en ny lenke", "en": "Ask for a new link"},
    "nav_overview": {"nb": "Mine data", "en": "My data"},
    "nav_consents": {"nb": "Samtykker", "en": "Consents"},
    "nav_details": {"nb": "Rett opplysninger", "en": "Correct details"},
    "nav_requests": {"nb": "Mine forespørsler", "en": "My requests"},
    "nav_delete": {"nb": "Slett konto", "en": "Delete account"},
    "acting_for": {"nb": "Du ser på", "en": "You are looking at"},
    "role_self": {"nb": "deg selv", "en": "yourself"},
    "role_guardian": {"nb": "barnet ditt", "en": "your child"},
    "role_admin": {"nb": "et medlem i organisasjonen din", "en": "a member of your organisation"},
    "switch_person": {"nb": "Bytt person", "en": "Switch person"},
    "show": {"nb": "Vis", "en": "Show"},
    "overview_title": {"nb": "Dine data, etter formål", "en": "Your data, by purpose"},
    "overview_intro": {
        "nb": "Her ser du hva vi bruker opplysningene til, hvorfor vi har lov, hvem som får "
              "dem og hvor lenge vi tar vare på dem.",
        "en": "Here you see what we use the data for, why we are allowed to, who receives it "
              "and how long we keep it.",
    },
    "why": {"nb": "Hvorfor", "en": "Why"},
    "basis": {"nb": "Rettslig grunnlag", "en": "Legal basis"},
    "categories": {"nb": "Opplysninger", "en": "Data"},
    "recipients": {"nb": "Mottakere", "en": "Recipients"},
    "stored_in": {"nb": "Lagret i", "en": "Stored in"},
    "how_long": {"nb": "Hvor lenge", "en": "How long"},
    # A basis, recipients or period the manifest leaves out, in the access package's words
    # (Art. 15(1)): no recipient listed is no statement that nobody receives the data.
    "not_stated": {lang: LABELS[lang]["not_stated"] for lang in ("nb", "en")},
    # A manual dataset of an access request (a processor asked by e-mail): its data is not
    # in the package, which gives the processor's answer as the owner recorded it.
    "by_hand_title": {lang: LABELS[lang]["manual"] for lang in ("nb", "en")},
    "by_hand_text": {
        "nb": "Disse opplysningene ble behandlet manuelt av databehandleren vår og er ikke i "
              "eksporten. Her er svaret deres, som det også står i eksporten:",
        "en": "This data was handled by hand by our processor and is not in the export. "
              "Here is their answer, as the export also gives it:",
    },
    "export_title": {"nb": "Last ned dataene dine", "en": "Download your data"},
    # What the package holds is what the data map finds, never more: a processor's system
    # the engine cannot reach is named in it and handed over separately (Art. 15(3)).
    "export_text": {
        "nb": "Du får en ZIP-fil med det vi finner om deg i systemene våre: data.json, én "
              "CSV-fil per tabell og en oversikt (summary.html). Opplysninger hos "
              "databehandlere som vi ikke når selv, står nevnt i oversikten og utleveres "
              "separat.",
        "en": "You get a ZIP file with the data we find about you in our systems: data.json, "
              "one CSV file per table and a summary (summary.html). Data held by processors "
              "whose systems we cannot reach ourselves is named in the summary and handed "
              "over separately.",
    },
    "export_button": {"nb": "Lag eksport", "en": "Create export"},
    "download": {"nb": "Last ned eksporten (ZIP)", "en": "Download the export (ZIP)"},
    "export_once": {
        "nb": "Eksporten kan lastes ned én gang, innen {minutes} minutter. Etterpå slettes den "
              "fra serveren.",
        "en": "The export can be downloaded once, within {minutes} minutes. Then it is deleted "
              "from the server.",
    },
    "export_removed": {
        "nb": "Eksporten er slettet fra serveren: den er lastet ned, eller det har gått mer enn "
              "{minutes} minutter.",
        "en": "The export has been deleted from the server: it was downloaded, or more than "
              "{minutes} minutes have passed.",
    },
    "export_again": {"nb": "Lag en ny eksport", "en": "Create a new export"},
    "export_gone_title": {"nb": "Eksporten er slettet", "en": "The export has been deleted"},
    "export_gone_text": {
        "nb": "Eksporten kan lastes ned én gang, innen {minutes} minutter, og er nå slettet fra "
              "serveren. Lag en ny eksport fra forsiden i portalen.",
        "en": "The export can be downloaded once, within {minutes} minutes, and has now been "
              "deleted from the server. Create a new one from the portal's start page.",
    },
    "consents_title": {"nb": "Samtykker", "en": "Consents"},
    "consents_intro": {
        "nb": "Dette gjør vi bare hvis du sier ja. Du kan ombestemme deg når som helst; det "
              "du har sagt ja til før, påvirkes ikke.",
        "en": "We only do these things if you say yes. You can change your mind at any time; "
              "what you agreed to before is not affected.",
    },
    "state_on": {"nb": "Du har sagt ja", "en": "You have said yes"},
    "state_off": {"nb": "Du har ikke sagt ja", "en": "You have not said yes"},
    "give": {"nb": "Si ja til {name}", "en": "Say yes to {name}"},
    "withdraw": {"nb": "Trekk tilbake samtykket til {name}",
                 "en": "Withdraw consent to {name}"},
    # Said only when the manifest does not say what withdrawing does (consent.on_withdrawal):
    # the engine stops the processing; what else follows is the service's to say.
    "consequence_withdraw": {
        "nb": "Trekker du samtykket, slutter vi med dette fra nå av.",
        "en": "If you withdraw, we stop doing this from now on.",
    },
    # The manifest's own words for what withdrawing does (consent.on_withdrawal).
    "consequence_withdraw_own": {"nb": "Trekker du samtykket: {what}",
                                 "en": "If you withdraw your consent: {what}"},
    "consequence_give": {
        "nb": "Sier du ja, gjør vi dette til du trekker samtykket tilbake.",
        "en": "If you say yes, we do this until you withdraw your consent.",
    },
    "consent_saved": {"nb": "Valget ditt er lagret.", "en": "Your choice has been saved."},
    "object_title": {"nb": "Protester mot markedsføring og annen bruk",
                     "en": "Object to marketing and other use"},
    "object_intro": {
        "nb": "Mot markedsføring kan du alltid protestere, og da slutter vi. Mot bruk vi "
              "begrunner med berettiget interesse kan du også protestere.",
        "en": "You can always object to marketing, and then we stop. You can also object to "
              "use we base on legitimate interest.",
    },
    "object": {"nb": "Protester mot {name}", "en": "Object to {name}"},
    "objected": {"nb": "Protesten er registrert.", "en": "Your objection has been recorded."},
    "details_title": {"nb": "Rett opplysninger om deg", "en": "Correct your details"},
    "details_intro": {
        "nb": "Fyll bare ut det som er feil. Feltene du lar stå tomme, endres ikke.",
        "en": "Fill in only what is wrong. Fields you leave empty are not changed.",
    },
    "field_hint_email": {"nb": "For eksempel navn@example.no", "en": "For example name@example.no"},
    "field_hint_phone": {"nb": "For eksempel +47 912 34 567", "en": "For example +47 912 34 567"},
    "field_hint_date": {"nb": "ÅÅÅÅ-MM-DD", "en": "YYYY-MM-DD"},
    "field_hint_text": {"nb": "Én linje", "en": "One line"},
    "save_changes": {"nb": "Lagre endringene", "en": "Save the changes"},
    "details_saved": {"nb": "Opplysningene er rettet.", "en": "Your details have been corrected."},
    "requests_title": {"nb": "Forespørsler", "en": "Requests"},
    "requests_none": {"nb": "Ingen forespørsler ennå.", "en": "No requests yet."},
    "type": {"nb": "Type", "en": "Type"},
    "state": {"nb": "Status", "en": "Status"},
    "received": {"nb": "Mottatt", "en": "Received"},
    "due": {"nb": "Frist", "en": "Deadline"},
    "overdue": {"nb": "Fristen er passert", "en": "Past the deadline"},
    "request_title": {"nb": "Forespørsel", "en": "Request"},
    "delete_title": {"nb": "Slett kontoen", "en": "Delete the account"},
    "delete_intro": {
        "nb": "Når du sletter kontoen, sletter vi opplysningene om deg. Noe må vi likevel "
              "ta vare på en stund fordi loven krever det:",
        "en": "When you delete the account, we erase the data about you. Some of it we must "
              "still keep for a while because the law requires it:",
    },
    "delete_intro_kept": {
        "nb": "Når du sletter kontoen, sletter vi opplysningene om deg, bortsett fra dette. "
              "Her står hvorfor og hvor lenge:",
        "en": "When you delete the account, we erase the data about you, except what is "
              "listed here, with why and for how long:",
    },
    "delete_intro_none": {
        "nb": "Når du sletter kontoen, sletter vi opplysningene om deg.",
        "en": "When you delete the account, we erase the data about you.",
    },
    "kept_by_map": {"nb": "Tjenesten har valgt å ikke slette dette, uten en lovpålagt "
                          "oppbevaringsplikt",
                    "en": "The service has chosen not to erase this, with no legal duty to "
                          "keep it"},
    "kept_no_end": {"nb": "Ingen sluttdato er oppgitt", "en": "No end is stated"},
    "kept_what": {"nb": "Hva", "en": "What"},
    "kept_why": {"nb": "Hvorfor", "en": "Why"},
    "kept_until": {"nb": "Hvor lenge", "en": "How long"},
    "nothing_kept": {
        "nb": "Vi tar ikke vare på noe av det når slettingen er ferdig. Får du beskjed på "
              "e-post om at den er ferdig, slettes adressen når beskjeden er sendt.",
        "en": "Once the erasure is done we keep none of it. If we tell you by e-mail that it "
              "is done, the address is erased once that e-mail has been sent.",
    },
    "delete_confirm": {"nb": "Jeg forstår at kontoen og dataene slettes for godt.",
                       "en": "I understand that the account and the data are erased for good."},
    "delete_button": {"nb": "Slett kontoen", "en": "Delete the account"},
    "delete_must_confirm": {"nb": "Kryss av for at du forstår hva som skjer.",
                            "en": "Tick the box to show you understand what happens."},
    "deleted_title": {"nb": "Kontoen er slettet", "en": "The account has been deleted"},
    "deleted_text": {"nb": "Vi har slettet opplysningene.", "en": "We have erased the data."},
    "deleted_kept": {"nb": "Dette beholder vi til fristen har gått ut:",
                     "en": "This we keep until the period has passed:"},
    # An erasure that is not carried out yet (a processor asked, a database not reached) or
    # was refused: said as it stands, never "deleted" (GDPR Art. 17(1), 12(3)).
    "erase_not_done_title": {"nb": "Slettingen er ikke ferdig",
                             "en": "The erasure is not finished"},
    "erase_not_done_text": {
        "nb": "Vi har mottatt forespørselen om å slette kontoen, men opplysningene er ikke "
              "slettet ennå. Vi skal være ferdige innen {due}.",
        "en": "We have received the request to delete the account, but the data has not "
              "been erased yet. We must be done by {due}.",
    },
    "erase_refused_text": {
        "nb": "Forespørselen om å slette kontoen ble avslått, og opplysningene er ikke slettet.",
        "en": "The request to delete the account was refused, and the data has not been "
              "erased.",
    },
    "until": {"nb": "til", "en": "until"},
    "type_access": {"nb": "Innsyn", "en": "Access"},
    "type_portability": {"nb": "Dataportabilitet", "en": "Portability"},
    "type_rectification": {"nb": "Retting", "en": "Rectification"},
    "type_erasure": {"nb": "Sletting", "en": "Erasure"},
    "type_restriction": {"nb": "Begrensning", "en": "Restriction"},
    "type_objection": {"nb": "Protest", "en": "Objection"},
    "type_withdrawal": {"nb": "Tilbaketrekking", "en": "Withdrawal"},
    "state_received": {"nb": "Mottatt", "en": "Received"},
    "state_verifying": {"nb": "Venter på bekreftelse", "en": "Awaiting verification"},
    "state_verified": {"nb": "Bekreftet", "en": "Verified"},
    "state_in_progress": {"nb": "Under arbeid", "en": "In progress"},
    "state_waiting": {"nb": "Venter", "en": "Waiting"},
    "state_completed": {"nb": "Ferdig", "en": "Completed"},
    "state_refused": {"nb": "Avslått", "en": "Refused"},
    "error_title": {"nb": "Det er et problem", "en": "There is a problem"},
}


# The core's refusals (``PersonvernError.code``) as the portal words them; ``{field}`` is
# put in front by ``refusal`` when the error names a field.
REFUSALS: dict[str, dict[str, str]] = {
    "guardian_required": {
        "nb": "Du er under {age} år, så en foresatt må gi dette samtykket ({source}, "
              "personvernforordningen artikkel 8).",
        "en": "You are under {age}, so a guardian must give this consent ({source}, "
              "GDPR Art. 8).",
    },
    "old_enough": {
        "nb": "Personen er {age} år eller eldre og bestemmer selv over samtykkene sine.",
        "en": "The person is {age} or older and decides on their consents themselves.",
    },
    "not_consent_basis": {
        "nb": "Dette formålet bygger ikke på samtykke, så det er ikke noe samtykke å gi eller "
              "trekke tilbake. Du kan protestere i stedet der loven gir rett til det.",
        "en": "This purpose does not rest on consent, so there is no consent to give or "
              "withdraw. You may object instead where the law gives that right.",
    },
    "cannot_object": {
        "nb": "Du kan ikke protestere mot dette formålet: retten til å protestere "
              "(personvernforordningen artikkel 21) gjelder berettiget interesse, offentlig "
              "myndighet og direkte markedsføring.",
        "en": "You cannot object to this purpose: the right to object (GDPR Art. 21) covers "
              "legitimate interest, public task and direct marketing.",
    },
    "nothing_to_withdraw": {
        "nb": "Det er ikke gitt noe samtykke til dette, så det er ingenting å trekke tilbake.",
        "en": "No consent has been given for this, so there is nothing to withdraw.",
    },
    "nothing_to_change": {"nb": "Fyll ut minst ett felt.", "en": "Fill in at least one field."},
    "bad_email": {"nb": "skriv en gyldig e-postadresse, for eksempel navn@example.no.",
                  "en": "enter a valid e-mail address, for example name@example.no."},
    "bad_phone": {"nb": "skriv et gyldig telefonnummer, for eksempel +47 912 34 567.",
                  "en": "enter a valid phone number, for example +47 912 34 567."},
    "bad_national_id": {"nb": "dette er ikke et gyldig fødselsnummer eller D-nummer.",
                        "en": "this is not a valid Norwegian national identity number."},
    "bad_orgnr": {"nb": "dette er ikke et gyldig organisasjonsnummer.",
                  "en": "this is not a valid Norwegian organisation number."},
    "bad_date": {"nb": "skriv en dato som ÅÅÅÅ-MM-DD, for eksempel 2010-05-17.",
                 "en": "enter a date as YYYY-MM-DD, for example 2010-05-17."},
    "bad_text": {"nb": "skriv 1 til {max} tegn på én linje.",
                 "en": "enter 1 to {max} characters on one line."},
    "no_value": {"nb": "skriv en ny verdi.", "en": "enter a new value."},
}
OTHER_REFUSAL = {
    "nb": "Det kunne ikke gjøres, og ingenting ble endret. Forklaringen finnes bare på "
          "engelsk: {detail}",
    "en": "{detail}",
}


def refusal(lang: str, exc: PersonvernError, label: Callable[[str], str] | None = None) -> str:
    """A core's refusal in ``lang``: worded by its code, the field it names (``params``
    ``field``) put in front by its label; an error without a known code keeps its own
    (English) words, introduced in bokmål."""
    # getattr: a subclass with its own __init__ may not have called ours.
    code: str | None = getattr(exc, "code", None)
    params: dict[str, object] = getattr(exc, "params", None) or {}
    texts = REFUSALS.get(code or "")
    values = {k: v for k, v in params.items() if k != "field"}
    if texts is None:
        return (OTHER_REFUSAL.get(lang) or OTHER_REFUSAL["en"]).format(detail=str(exc))
    text = (texts.get(lang) or texts["nb"]).format(**values)
    field = params.get("field")
    if field is None:
        return text
    name = label(str(field)) if label is not None else str(field).rsplit(".", 1)[-1]
    return f"{name}: {text}"


def install() -> None:
    """Add these texts to the catalogue (idempotent)."""
    add_messages(MESSAGES)
