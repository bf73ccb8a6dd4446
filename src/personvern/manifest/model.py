"""The manifest schema, version 1: a service's privacy policy as data.

Every section is a strict Pydantic model (unknown keys are errors). References
between sections (categories, purposes, recipients, retention rules) are
checked by :mod:`personvern.manifest.references` after the shape is valid.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from personvern.law.identifiers import real_orgnr
from personvern.manifest.types import (
    CategoryKey,
    Country,
    DurationField,
    Email,
    Id,
    Text,
    plain_orgnr,
)

Language = Literal["nb", "en"]
LegalBasis = Literal[
    "consent", "contract", "legal_obligation", "vital_interests", "public_task",
    "legitimate_interests",
]
# GDPR Art. 6(1) letter for each basis, and its W3C DPV term.
LEGAL_BASIS_ARTICLE: dict[str, str] = {
    "consent": "a", "contract": "b", "legal_obligation": "c", "vital_interests": "d",
    "public_task": "e", "legitimate_interests": "f",
}

RetentionTrigger = Literal[
    "collected", "last_activity", "account_closed", "contract_end", "subscription_end",
    "course_end", "payment_settled", "fiscal_year_end", "consent_withdrawn", "objection_raised",
    "purpose_fulfilled",
]
RetentionAction = Literal["delete", "anonymise", "restrict"]
RecipientRole = Literal[
    "processor", "sub_processor", "controller", "joint_controller", "public_authority",
]
TransferMechanism = Literal[
    "adequacy", "dpf", "scc", "bcr", "consent_derogation", "contract_derogation", "none",
]
SubProcessorRule = Literal["prohibited", "specific_authorisation", "general_authorisation"]
CookieCategory = Literal["necessary", "preferences", "statistics", "marketing"]
Right = Literal[
    "access", "rectification", "erasure", "restriction", "objection", "portability",
    "withdraw_consent", "human_review",
]
ALL_RIGHTS: tuple[str, ...] = Right.__args__  # type: ignore[attr-defined]
ChannelType = Literal["portal", "in_app", "email", "post", "phone", "web_form"]
MarketingChannel = Literal["email", "sms", "push", "phone", "post", "social", "web"]
Art9Condition = Literal[
    "explicit_consent", "employment", "vital_interests", "foundation", "made_public",
    "legal_claims", "substantial_public_interest", "health_care", "public_health", "archiving",
]
Identity = Literal["email", "phone", "user_id", "national_id", "external_id"]
# Promises that are not processing (issue 12, item 6): each is published as declared and
# checked where the engine can (check/rules/commitments.py says how far, kind by kind).
CommitmentKind = Literal[
    "never_sold", "no_sharing_without_consent", "mutual_interest_sharing",
    "aggregated_statistics", "signature_rights_verified", "no_card_data",
    "provision_voluntary", "processor_list_on_request",
]
# The kinds that are about particular purposes, and must name them.
PURPOSE_COMMITMENTS = frozenset({"mutual_interest_sharing", "aggregated_statistics"})


_LANGUAGES: tuple[Language, ...] = ("nb", "en")


def _note() -> Any:
    """The ``note:`` field: the author's own remark, never published."""
    return Field(None, description="the author's note: shown by `personvern check` and in the "
                                   "record of processing's internal view, never published")


def _empty_list() -> list[Any]:
    """A new empty list for a field's default."""
    # Not ``list`` itself: Pydantic reads a default factory's signature, and a builtin's is
    # parsed from its text by the tokenizer, about 3 ms a field when `check` starts.
    return []


def _empty_dict() -> dict[Any, Any]:
    """A new empty mapping for a field's default (a Python function, as ``_empty_list``)."""
    return {}


def _one_or_many(value: Any) -> Any:
    """Let a single id stand for a list of one (``retention: account``)."""
    return [value] if isinstance(value, str) else value


IdList = Annotated[list[Id], BeforeValidator(_one_or_many)]


class Strict(BaseModel):
    """Base for manifest sections: unknown keys are errors, values are immutable."""

    # Validators are built when a model first validates, not at import: the whole manifest's
    # once, from the root, instead of one per section model (a tenth of `check`'s start-up).
    model_config = ConfigDict(
        defer_build=True,
        extra="forbid", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True
    )


# ---- who ---------------------------------------------------------------------

class Contact(Strict):
    """A person or role people can reach."""

    name: str | None = None
    email: Email | None = None
    phone: str | None = None
    address: str | None = None
    url: str | None = None


class Controller(Strict):
    """The controller (behandlingsansvarlig), Art. 4(7) and 13(1)(a)."""

    name: str
    orgnr: str | None = Field(
        None, description="organisasjonsnummer: 9 digits, a mod-11 check digit, beginning with "
                          "8 or 9 as Brønnøysundregistrene issue them; leave it out when the "
                          "controller's own policy gives none, and the policy omits it")
    address: str | None = None
    email: Email | None = None
    phone: str | None = None
    website: str | None = None
    dpo: Contact | None = Field(None, description="personvernombud (data protection officer)")
    privacy_contact: Contact | None = Field(
        None, description="the person responsible for privacy where there is no DPO"
    )
    representative: Contact | None = None
    note: str | None = _note()

    @field_validator("orgnr")
    @classmethod
    def _valid_orgnr(cls, value: str | None) -> str | None:
        if value is None or plain_orgnr(value):
            return value
        return real_orgnr(value)


class JurisdictionSettings(Strict):
    """Which country's rules apply; a different child age only with its source."""

    country: Country = "NO"
    child_consent_age: int | None = Field(None, ge=13, le=16)


class Subject(Strict):
    """A kind of data subject (customer, pupil, guardian, employee, ...)."""

    id: Id
    name: Text
    description: Text | None = None
    includes_children: bool = False
    party_to_contract: bool | None = Field(
        None, description="whether these people are themselves party to the contract with the "
                          "controller (false: e.g. employees their employer signs up)")


class Category(Strict):
    """A data category the service processes; built-in keys need no names."""

    id: CategoryKey
    name: Text | None = None
    description: Text | None = None
    dpv: str | None = Field(None, description="a W3C DPV pd: concept, e.g. pd:EmailAddress")
    special: bool | None = None
    source: Text | None = Field(None, description="where the data comes from if not the person")
    note: str | None = _note()


# ---- why ---------------------------------------------------------------------

class LegitimateInterest(Strict):
    """Art. 6(1)(f): the interest pursued and the balancing against the person's rights."""

    interest: Text
    balancing: Text | None = None


class LegalObligation(Strict):
    """Art. 6(1)(c) and 6(3): the statute that requires the processing."""

    statute: str
    description: Text | None = None


class ConsentSettings(Strict):
    """How consent is asked for and how long it lasts."""

    expires_after: DurationField | None = None
    explicit: bool = False
    how_to_withdraw: Text | None = None
    on_withdrawal: Text | None = None
    bundled: bool = Field(
        False, description="asked together with sign-up or terms, not as a separate choice"
    )


class Marketing(Strict):
    """Direct marketing: channels and the markedsføringsloven § 15 exception."""

    channels: list[MarketingChannel] = Field(
        default_factory=_empty_list,
        description="channels the marketing is sent through; empty when the policy does not say",
    )
    existing_customer_exception: bool = False
    similar_products_only: bool = False
    opt_out_at_collection: bool = False
    opt_out_in_every_message: bool = False


class AutomatedDecisions(Strict):
    """Art. 22: decisions based solely on automated processing."""

    legal_or_similar_effect: bool
    logic: Text | None = None
    human_review: bool = False


class SpecialCategoryCondition(Strict):
    """Art. 9(2): the condition that lifts the ban on special categories."""

    condition: Art9Condition
    description: Text | None = Field(
        None, description="further grounds, published (e.g. the national law relied on)")
    note: str | None = _note()


class Purpose(Strict):
    """A purpose of processing with its legal basis (Art. 5(1)(b), 6, 13(1)(c))."""

    id: Id
    name: Text
    description: Text | None = None
    legal_basis: LegalBasis | None = None
    legitimate_interest: LegitimateInterest | None = None
    legal_obligation: LegalObligation | None = None
    consent: ConsentSettings | None = None
    necessary_for_service: bool | None = Field(
        None, description="the service the person asked for cannot be delivered without it "
                          "(true), or can (false); unset says neither"
    )
    categories: list[CategoryKey] = Field(default_factory=_empty_list)
    subjects: list[Id] = Field(default_factory=_empty_list)
    retention: IdList = Field(
        default_factory=_empty_list,
        description="retention rule ids; the purpose's data ends when the first of them fires",
    )
    recipients: list[Id] = Field(default_factory=_empty_list)
    marketing: Marketing | None = None
    profiling: bool = False
    automated_decisions: AutomatedDecisions | None = None
    special_categories: SpecialCategoryCondition | None = None
    required: bool | None = Field(
        None, description="whether the person must provide the data (Art. 13(2)(e))"
    )
    third_party_sharing: bool = False
    improves_service: bool = Field(
        False, description="the purpose is improving or developing the service")
    cookie_categories: list[CookieCategory] = Field(
        default_factory=_empty_list,
        description="categories of cookies and similar technologies this purpose relies on",
    )
    note: str | None = _note()


# ---- how long ----------------------------------------------------------------

class RetentionCondition(Strict):
    """An exception that keeps data past its trigger, e.g. at the person's request."""

    id: Id
    description: Text
    requested_by_subject: bool = False


class RetentionRule(Strict):
    """How long data lives: a trigger, a duration after it, and what happens then."""

    id: Id
    trigger: RetentionTrigger
    duration: DurationField
    action: RetentionAction = "delete"
    description: Text | None = None
    statute: str | None = None
    bookkeeping: bool = Field(False, description="kept to meet bokføringsloven")
    plus_withdrawal_period: bool = Field(
        False, description="add the jurisdiction's right-of-withdrawal period (angrerettloven)"
    )
    criterion: Text | None = Field(
        None, description="trigger purpose_fulfilled: the concrete criterion that ends the "
                          "period, published (Art. 13(2)(a)); 'as long as necessary' is none")
    conditions: list[RetentionCondition] = Field(default_factory=_empty_list)
    notice_before: DurationField | None = Field(
        None, description="warn the person this long before an inactivity deletion"
    )
    note: str | None = _note()


# ---- who receives it ---------------------------------------------------------

class Transfer(Strict):
    """The safeguard for a transfer outside the EEA (Art. 44-49)."""

    mechanism: TransferMechanism
    description: Text | None = Field(
        None, description="further detail, published (e.g. supplementary measures)")
    risks_stated: bool = Field(
        False, description="consent_derogation: the person is told the risks of a transfer "
                           "without adequacy or safeguards before consenting (Art. 49(1)(a))")
    note: str | None = _note()


class Recipient(Strict):
    """A processor or other recipient (Art. 13(1)(e), 28, 30(1)(d))."""

    id: Id
    name: str
    role: RecipientRole = "processor"
    service: Text
    categories: list[CategoryKey] = Field(default_factory=_empty_list)
    country: Country | None = Field(None, description="where data is processed; unknown if absent")
    transfer: Transfer | None = None
    dpa_signed: date | bool | None = Field(
        None, description="date the data processing agreement was signed (true: date unknown)"
    )
    sub_processors: SubProcessorRule | None = None
    privacy_policy: str | None = None
    joint_arrangement: bool = Field(False, description="Art. 26 arrangement in place")
    buys_data: bool = Field(
        False, description="the recipient pays for the personal data it receives: a sale "
                           "(contradicts a never_sold commitment, PV076)")
    webhook: str | None = Field(
        None, description="URL told of rectifications, erasures and restrictions (Art. 19)"
    )
    secret_env: str | None = Field(
        None, description="environment variable holding the secret the webhook's calls are "
                          "signed with (HMAC-SHA256, as dataset callbacks are)"
    )
    contact: Email | None = Field(
        None, description="e-mail address told of rectifications, erasures and restrictions "
                          "(Art. 19) and asked to act on a manual dataset"
    )
    note: str | None = _note()

    @property
    def role_stated(self) -> bool:
        """Whether the manifest says the role (the default "processor" is not a statement)."""
        return "role" in self.model_fields_set


# ---- cookies -----------------------------------------------------------------

class Cookie(Strict):
    """A cookie, pixel or similar technology on the person's device (ekomloven)."""

    name: Text
    provider: str
    category: CookieCategory
    purpose: Text
    lifetime: DurationField | Literal["session"] | None = None
    third_party: bool = False
    joint_controller: bool = False
    recipient: Id | None = None
    note: str | None = _note()


class CookieConsent(Strict):
    """How cookie consent is asked for, and how a choice is changed."""

    mechanism: Literal["banner", "checkboxes", "browser_settings", "none"]
    # No default for either: the policy says only what the author says (issue 12).
    withdraw: Literal["banner", "settings_page", "browser_settings"] | None = Field(
        None, description="where a choice is changed or withdrawn later; unset says nothing"
    )
    expires_after: DurationField | None = None
    reject_as_easy_as_accept: bool | None = Field(
        None, description="refusing is as easy as accepting; unset says nothing"
    )


# ---- commitments ---------------------------------------------------------------

class Commitment(Strict):
    """A promise the controller makes that is not itself processing ("we never sell your
    data"): published as declared, and checked where Personvern can (PV076-PV079,
    PV088-PV090); what it cannot check, `personvern check` says so (PV088)."""

    kind: CommitmentKind = Field(
        description="what is promised: never_sold, no_sharing_without_consent (except a "
                    "legal duty), mutual_interest_sharing, aggregated_statistics, "
                    "signature_rights_verified, no_card_data, provision_voluntary, "
                    "processor_list_on_request")
    text: Text | None = Field(
        None, description="the promise in the controller's own words, published; the "
                          "policy's wording for the kind when absent")
    purposes: list[Id] = Field(
        default_factory=_empty_list,
        description="the purposes the promise is about; required for mutual_interest_sharing "
                    "(the sharing) and aggregated_statistics (the statistics)")
    note: str | None = _note()

    @model_validator(mode="after")
    def _purposes_named(self) -> Commitment:
        if self.kind in PURPOSE_COMMITMENTS and not self.purposes:
            raise ValueError(f"a {self.kind} commitment names the purposes it is about "
                             "(purposes: [...])")
        return self


# ---- rights ------------------------------------------------------------------

class Channel(Strict):
    """A way to exercise rights: portal, e-mail, post, ..."""

    type: ChannelType
    address: str | None = None
    label: Text | None = Field(
        None, description="where it is, in words and per language (a menu in the app, a "
                          "form's name); said instead of the address")
    rights: list[Right] | None = Field(None, description="rights served here; all if absent")


class ResponseDeadline(Strict):
    """The answer time promised, in the policy's own unit; the law's is one month (Art. 12(3))."""

    months: int | None = Field(None, ge=0)
    working_days: int | None = Field(
        None, ge=0, description="working days (arbeidsdager): Monday to Friday, public "
                                "holidays excluded")
    virkedager: int | None = Field(
        None, ge=0, description="virkedager as Norwegian law counts them (ferieloven § 5(1)): "
                                "Monday to Saturday, Sundays and public holidays excluded")
    days: int | None = Field(None, ge=0, description="calendar days")

    @model_validator(mode="after")
    def _exactly_one(self) -> ResponseDeadline:
        given = [v for v in (self.months, self.working_days, self.virkedager, self.days)
                 if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of months, working_days, virkedager or days")
        return self


class Rights(Strict):
    """The rights the policy offers and the channels to use them."""

    offered: list[Right] = Field(default_factory=_empty_list)
    channels: list[Channel] = Field(default_factory=_empty_list)
    # Defaults are built without validating (what validation would give: no input, defaults
    # unvalidated), so importing the manifest builds no section's validator of its own.
    deadline: ResponseDeadline = ResponseDeadline.model_construct(months=1)
    identity_verification: Text | None = None
    gpc: bool | None = Field(
        None, description="the service honours the Global Privacy Control signal (Sec-GPC: 1) "
                          "as an objection to marketing and sharing and a refusal of "
                          "non-necessary cookies; the policy promises it only when true"
    )


class Children(Strict):
    """Children among the subjects (Art. 8, personopplysningsloven § 5)."""

    present: bool = False
    guardian_consent: bool = False
    verification: Text | None = None
    guardian_subject: Id | None = None
    # Art. 8(1) voids only a child's own consent; a service may refuse children's data
    # without a guardian's consent altogether (seed 004), contract data included.
    erase_without_guardian_consent: bool = False


class PolicyChanges(Strict):
    """How changes to the policy are announced."""

    notice_days: int | None = Field(None, ge=0)
    email_on_material_change: bool = False
    effective_from: date | None = None


EraseAction = Literal["delete_row", "null", "mask", "hash", "keep"]
Validation = Literal["email", "phone", "national_id", "orgnr", "date", "text"]


class Column(Strict):
    """A column holding personal data, and what erasure does to it."""

    name: str
    categories: list[CategoryKey] = Field(default_factory=_empty_list)
    identity: Identity | None = Field(
        None, description="this column identifies the subject (the walk starts here)"
    )
    erase: EraseAction | None = Field(
        None, description="what erasure does to this column; the table's rule if absent"
    )
    hold: Id | None = Field(
        None, description="retention rule that keeps this column despite erasure (legal hold)"
    )
    provided: bool = Field(
        False, description="the person provided it (included in a portability export)"
    )
    validate_as: Validation | None = Field(
        None, description="how a rectified value is checked (e-mail, phone, fødselsnummer, ...)"
    )


class Reference(Strict):
    """A column pointing at another table's key: the walk follows it (multi-hop)."""

    column: str = Field(description="the column in this table holding the other table's key")
    to: str = Field(description="table.column it points at, e.g. users.id")
    owner: bool = Field(
        True, description="whether the row belongs to the person this column points at (a "
                          "message's sender); false: it only names them (a message's "
                          "recipient): access shows the row, erasure sets this column to null "
                          "and leaves the row to its owner",
    )
    part: bool = Field(
        False, description="the row it points at is part of this row (a user's address row: "
                           "users.address_id -> addresses.id): the walk follows it from this "
                           "row to that one, and access and erasure treat it as this row's "
                           "person's; Fides calls this direction: to",
    )


class Table(Strict):
    """A table of a dataset: its key, personal columns, references and erasure rule."""

    name: str
    key: str = Field("id", description="the primary key column")
    columns: list[Column] = Field(default_factory=_empty_list)
    references: list[Reference] = Field(default_factory=_empty_list)
    erase: EraseAction = Field(
        "delete_row", description="what erasure does to a row of the subject's, by default"
    )
    hold: Id | None = Field(
        None, description="retention rule that keeps whole rows despite erasure (legal hold)"
    )
    dates: dict[RetentionTrigger, str] = Field(
        default_factory=_empty_dict,
        description="where a retention trigger's date is in this table: trigger -> date or "
                    "timestamp column (e.g. subscription_end: ends_on); tables that refer to "
                    "this one use it too. Or child_table.column: the latest date among the "
                    "rows of a table that refers to this one (course_end: "
                    "enrolments.course_ends_on dates a participant by their last course)",
    )
    keep_flag: str | None = Field(
        None, description="a boolean column: true keeps the row past a rule whose condition "
                          "lets the person ask to keep it (requested_by_subject), until a "
                          "later row of the same person (the next course) has passed the "
                          "rule itself",
    )
    organisation: str | None = Field(
        None, description="the column holding the organisation number (orgnr) of the "
                          "customer organisation a row is: when the organisation leaves, "
                          "its row here and every row referring to it are erased (seed 003)",
    )
    purposes: list[Id] | None = Field(
        None, description="the purposes whose data this table holds, when fewer than the "
                          "categories say (a newsletter list holds an e-mail address for the "
                          "newsletter, not for the account); default: every purpose using "
                          "one of its columns' categories",
    )


class Dataset(Strict):
    """Where the service keeps personal data: a database, an HTTP callback, or a manual task."""

    id: Id
    kind: Literal["sql", "http", "manual"] = "sql"
    description: Text | None = None
    url: str | None = Field(None, description="SQLAlchemy URL without secrets (e.g. sqlite:///app.db)")
    url_env: str | None = Field(None, description="environment variable holding the URL")
    tables: list[Table] = Field(default_factory=_empty_list)
    callback: str | None = Field(
        None, description="kind http: the app's endpoint answering access and erase calls"
    )
    recipient: Id | None = Field(
        None, description="kind manual: the processor asked by e-mail to act"
    )
    contact: Email | None = Field(None, description="kind manual: where the request is sent")
    secret_env: str | None = Field(
        None, description="kind http: environment variable holding the secret the calls are "
                          "signed with (HMAC-SHA256)"
    )


class ProcessorRole(Strict):
    """The service as a processor for its customers (GDPR Art. 28, 30(2))."""

    controllers: Text = Field(description="who the customers are, e.g. the companies using the hub")
    contact: Text | None = Field(None, description="how the customers' controllers are reached")
    subjects: list[Id] = Field(
        default_factory=_empty_list, description="subject categories processed for the customers"
    )
    purposes: list[Id] = Field(
        default_factory=_empty_list, description="purposes carried out on the customers' behalf"
    )
    dpa: date | bool | None = Field(
        None, description="the data processing agreement with customers (true: date unknown)"
    )


class Service(Strict):
    """The service the manifest describes."""

    name: str
    url: str | None = None
    description: Text | None = None


class Manifest(Strict):
    """A Personvern manifest, schema version 1."""

    personvern: Literal[1]
    service: Service
    controller: Controller
    # Unvalidated defaults, as Rights.deadline's: no section validator is built at import.
    jurisdiction: JurisdictionSettings = JurisdictionSettings.model_construct()
    languages: list[Language] = Field(default_factory=lambda: list(_LANGUAGES))
    subjects: list[Subject] = Field(default_factory=_empty_list)
    categories: list[Category] = Field(default_factory=_empty_list)
    purposes: list[Purpose] = Field(default_factory=_empty_list)
    retention: list[RetentionRule] = Field(default_factory=_empty_list)
    recipients: list[Recipient] = Field(default_factory=_empty_list)
    cookies: list[Cookie] = Field(default_factory=_empty_list)
    cookie_consent: CookieConsent | None = None
    rights: Rights = Rights.model_construct()
    children: Children = Children.model_construct()
    policy_changes: PolicyChanges = PolicyChanges.model_construct()
    security: Text | None = Field(None, description="general description of security measures")
    processor_for: ProcessorRole | None = Field(
        None, description="when the service also processes data for its customers (Art. 30(2))"
    )
    datasets: list[Dataset] = Field(default_factory=_empty_list)
    no_automated_decisions: bool | None = Field(
        None, description="the controller states that it makes no decisions based solely on "
                          "automated processing with legal or similar effect (Art. 22); "
                          "checked against the purposes (PV075)")
    no_profiling: bool | None = Field(
        None, description="the controller states that it does not profile; checked against "
                          "the purposes (PV075)")
    no_third_country_transfers: bool | None = Field(
        None, description="the controller states that no personal data goes outside the EEA; "
                          "checked against every recipient's country (PV065)")
    commitments: list[Commitment] = Field(
        default_factory=_empty_list,
        description="promises that are not processing (data never sold, no card data "
                    "stored, ...): published, and checked where Personvern can")
    note: str | None = _note()

    def purpose(self, purpose_id: str) -> Purpose:
        """The purpose with ``purpose_id`` (KeyError if none)."""
        return {p.id: p for p in self.purposes}[purpose_id]

    def retention_rule(self, rule_id: str) -> RetentionRule | None:
        """The retention rule with ``rule_id``, or None."""
        return next((r for r in self.retention if r.id == rule_id), None)

    def recipient(self, recipient_id: str) -> Recipient | None:
        """The recipient with ``recipient_id``, or None."""
        return next((r for r in self.recipients if r.id == recipient_id), None)
