"""The portal's texts in bokmål and English (added to the catalogue in personvern.web.i18n)."""

from __future__ import annotations

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
}


def install() -> None:
    """Add these texts to the catalogue (idempotent)."""
    add_messages(MESSAGES)
