"""Personal data that no value pattern gives away but real schemas name plainly — a
position, an education, skills, signing authority, consent flags, progress, purchases,
cookie and device ids, a payment processor's customer id — as a vocabulary of Norwegian
and English column names, each mapped to the manifest's category taxonomy.

The words come from common practice, not from any one schema: the JSON Resume schema
(``work.position``, ``education.institution``/``studyType``, ``skills``), the fields
payment processors document (Stripe's ``customer`` and ``last4``, Vipps' user id), cookie
and analytics ids (``cookie_id``, ``device_id``, ``client_id``, IDFA/GAID), Brønnøysund-
registrene's roles (signaturrett, prokura), fideslang's taxonomy descriptions for the
categories, and the Norwegian words a developer here would use. A name is weaker evidence
than a value that matches a checksum or a syntax, so a column found by its name alone gets
``NAME_ONLY`` confidence — below what matching values give — and its evidence says "name
only". Its values must still look the part: a column named ``skills`` holding numbers is
not proposed."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# Below any value evidence that matches most sampled values (a strong kind's share, a weak
# kind's 0.9 x share when its name agrees), above scan.CONFIDENT (0.6): proposed, and the
# first proposal a reviewer should doubt.
NAME_ONLY = 0.65
# Shown when the name fits but the values do not look the part: said, not proposed.
NAME_ONLY_UNFIT = 0.3
_FIT = 0.9  # share of the sampled values that must look the part


@dataclass(frozen=True)
class NamedKind:
    """A kind of personal data known by its column's name, and the shape its values take."""

    name: str
    category: str
    names: re.Pattern[str]
    fits: Callable[[str], bool]
    looks: str  # what values that fit look like, in words for the evidence
    # Only in a table named like this (``product`` is bought in an ``orders`` table, not
    # a ``products`` catalogue).
    tables: re.Pattern[str] | None = None
    # The value itself singles a person out (an online identifier, GDPR recital 30), so it
    # is personal data even in a table with no other link to a person.
    identifying: bool = False


def _part(*words: str) -> re.Pattern[str]:
    """Names containing one of ``words`` as a whole part (``employee_position``,
    ``stillingstittel`` only when listed)."""
    return re.compile(rf"(^|[_\W]|\d)({'|'.join(words)})($|[_\W]|\d)", re.IGNORECASE)


def _words(value: str) -> bool:
    """Text a person wrote or chose: has letters, is not a number or a date."""
    return any(c.isalpha() for c in value) and not re.fullmatch(r"[\d\s.:+T-]+", value)


FLAGS = frozenset({"0", "1", "true", "false", "t", "f", "yes", "no", "y", "n", "ja", "nei",
                    "on", "off"})


def _flag(value: str) -> bool:
    return value.strip().lower() in FLAGS


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _token(value: str) -> bool:
    """An opaque id: six or more characters, no spaces (``cus_N3x…``, a UUID, a hash)."""
    return bool(re.fullmatch(r"[\w.:=/+-]{6,200}", value))


def _last_digits(value: str) -> bool:
    return bool(re.fullmatch(r"\d{4}", value.strip()))


_PRO = "user.professional_information"

VOCABULARY: tuple[NamedKind, ...] = (
    NamedKind("job title", f"{_PRO}.job_title",
              _part("stilling", "stillingstittel", "position", "job_title", "jobtitle",
                    "job_position", "occupation", "yrke", "profession", "designation"),
              _words, "text with letters"),
    NamedKind("education", f"{_PRO}.education",
              _part("utdanning", "utdannelse", "education", "degree", "grad", "studyType",
                    "study_type", "institution", "university", "universitet", "hogskole",
                    "høgskole", "laerested", "lærested", "fagbrev", "qualification"),
              _words, "text with letters"),
    NamedKind("skills", f"{_PRO}.skills",
              _part("skills?", "kompetanse", "kompetanser", "ferdighet", "ferdigheter",
                    "competenc[ey]", "competencies", "expertise", "ekspertise"),
              _words, "text with letters"),
    # Who may sign for a company (signaturrett, prokura: aksjeloven §§ 6-31 and 6-32) is a
    # fact about a person's role, not a value with a pattern. The taxonomy's nearest key.
    NamedKind("signing authority", _PRO,
              _part("signaturrett", "signatur", "signature_rights?",
                    "signing_authority", "signatory", "can_sign", "prokura", "prokurist"),
              _flag, "yes/no flags"),
    NamedKind("consent or marketing choice", "user.privacy_preferences",
              re.compile(r"(^|_)(samtykke\w*|consents?|opt_?in|opt_?out|optin|optout|"
                         r"(e?mail|sms|push|phone|tlf|marketing|newsletter|nyhetsbrev|"
                         r"markedsforing|markedsføring|reklame)_(ok|allowed|consent|opt_?in|"
                         r"samtykke|tillatt)|allow_(e?mail|sms|marketing|contact)|"
                         r"accepts?_marketing|unsubscribed)($|_)", re.IGNORECASE),
              _flag, "yes/no flags"),
    NamedKind("preferences", "user.account.settings",
              _part("preferanser?", "preferences?", "innstillinger", "user_settings"),
              lambda value: bool(value.strip()), "any value"),
    # Progress in a course or test: the taxonomy's "use of the service".
    NamedKind("progress", "user.behavior",
              _part("progresjon", "progress", "score", "scores", "poeng", "poengsum",
                    "completion", "completed_lessons", "framdrift"),
              _number, "numbers"),
    NamedKind("purchase history", "user.behavior.purchase_history",
              _part("purchase_history", "order_history", "kjopshistorikk",
                    "kjøpshistorikk", "purchases", "kjop", "kjøp"),
              _words, "text with letters"),
    NamedKind("purchase history", "user.behavior.purchase_history",
              _part("product", "products", "produkt", "produkter", "items?", "vare", "varer",
                    "line_items", "ordrelinjer?", "sku", "article", "artikkel"),
              _words, "text with letters",
              tables=_part("orders?", "purchases?", "kjop", "kjøp", "bestillinger",
                           "bestilling", "ordre", "ordrer", "handlekurv", "carts?",
                           "transactions?", "order_lines?", "order_items?")),
    NamedKind("cookie id", "user.device.cookie_id",
              _part("cookie", "cookie_id", "cookieid", "cookies", "ga_client_id",
                    "visitor_id", "anonymous_id", "anon_id", "tracking_id"),
              _token, "opaque ids", identifying=True),
    NamedKind("device id", "user.device.device_id",
              _part("device_id", "deviceid", "enhets_id", "enhetsid", "idfa", "gaid",
                    "advertising_id", "push_token", "device_token", "fingerprint"),
              _token, "opaque ids", identifying=True),
    # A processor's id for the customer (Stripe's cus_…, Vipps, Klarna) singles the person
    # out at the processor: pseudonymous data is personal data (GDPR recital 26).
    NamedKind("customer id at a processor", "user.unique_id",
              re.compile(r"(^|_)((stripe|vipps|klarna|paypal|adyen|nets|braintree|mollie|"
                         r"dintero|swedbank|svea|shopify)_?(customer|user|payer|member|"
                         r"account|buyer)?_?(id|ref|no)|external_(customer|user|member|"
                         r"account)_(id|ref)|customer_(ref|number|no)|kundenummer|kundenr|"
                         r"kunde_nr|customer_token)($|_)", re.IGNORECASE),
              _token, "opaque ids", identifying=True),
    NamedKind("last digits of a card", "user.financial",
              _part("last4", "last_4", "card_last4", "card_last_4", "last_four",
                    "siste4", "siste_fire"),
              _last_digits, "four digits"),
)


def named(table: str, column: str) -> NamedKind | None:
    """The kind a column's name (and, where the kind asks, its table's name) says it
    holds, or None."""
    for kind in VOCABULARY:
        if kind.names.search(column) and (kind.tables is None or kind.tables.search(table)):
            return kind
    return None


def fit(kind: NamedKind, texts: list[str]) -> tuple[int, bool]:
    """How many of ``texts`` look the part, and whether enough do."""
    n = sum(1 for t in texts if kind.fits(t))
    return n, bool(texts) and n >= _FIT * len(texts)
