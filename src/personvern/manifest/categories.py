"""Built-in data categories: fideslang-style keys mapped to W3C DPV ``pd:`` concepts.

A manifest may use any key below directly, or declare its own key (with names)
in ``categories``. ``special`` marks GDPR Art. 9 categories; ``financial`` and
``government_id`` feed checks that need to know what kind of data a purpose holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DPV_PD = "https://w3id.org/dpv/pd#"


@dataclass(frozen=True)
class BuiltinCategory:
    """One taxonomy entry: key, names in bokmål and English, DPV concept, flags."""

    key: str
    nb: str
    en: str
    dpv: str | None
    special: bool = False

    @property
    def dpv_iri(self) -> str | None:
        """The full DPV IRI, or None where DPV has no fitting concept."""
        return None if self.dpv is None else DPV_PD + self.dpv.removeprefix("pd:")


def _c(key: str, nb: str, en: str, dpv: str | None, *, special: bool = False) -> BuiltinCategory:
    return BuiltinCategory(key, nb, en, dpv, special)


_ALL = [
    _c("user", "Personopplysninger", "Personal data", "pd:PersonalData"),
    _c("user.name", "Navn", "Name", "pd:Name"),
    _c("user.contact", "Kontaktinformasjon", "Contact details", "pd:Contact"),
    _c("user.contact.email", "E-postadresse", "E-mail address", "pd:EmailAddress"),
    _c("user.contact.phone_number", "Telefonnummer", "Phone number", "pd:TelephoneNumber"),
    _c("user.contact.address", "Postadresse", "Postal address", "pd:PhysicalAddress"),
    _c("user.contact.address.postal_code", "Postnummer", "Postcode", "pd:PostalCode"),
    _c("user.contact.address.city", "Poststed", "City", "pd:PhysicalAddress"),
    _c("user.account", "Konto og profil", "Account and profile", "pd:Account"),
    _c("user.account.username", "Brukernavn", "Username", "pd:Username"),
    _c("user.account.settings", "Innstillinger og preferanser", "Settings and preferences",
       "pd:Preference"),
    _c("user.settings", "Innstillinger og preferanser", "Settings and preferences",
       "pd:Preference"),
    _c("user.privacy_preferences", "Personvernvalg", "Privacy choices", "pd:PrivacyPreference"),
    _c("user.authorization.credentials", "Påloggingsopplysninger", "Sign-in credentials",
       "pd:Password"),
    _c("user.unique_id", "Bruker-ID", "User id", "pd:Identifier"),
    _c("user.demographic.date_of_birth", "Fødselsdato", "Date of birth", "pd:BirthDate"),
    _c("user.demographic.age_range", "Alder", "Age", "pd:Age"),
    _c("user.demographic.gender", "Kjønn", "Gender", "pd:Gender"),
    _c("user.demographic.language", "Språk", "Language", "pd:Language"),
    _c("user.demographic.profile", "Profilopplysninger", "Profile information", "pd:Preference"),
    _c("user.government_id.national_identification_number", "Fødselsnummer eller D-nummer",
       "National identity number", "pd:NationalIdentificationNumber"),
    _c("user.government_id.drivers_license_number", "Førerkortnummer",
       "Driving licence number", "pd:DriversLicenseNumber"),
    _c("user.financial", "Betalingsopplysninger", "Payment information", "pd:Financial"),
    _c("user.financial.bank_account", "Kontonummer", "Bank account number", "pd:BankAccount"),
    _c("user.financial.credit_card", "Betalingskort", "Payment card", "pd:CreditCardNumber"),
    _c("user.payment", "Betalings- og transaksjonsopplysninger", "Payments and transactions",
       "pd:Transaction"),
    _c("user.behavior", "Bruk av tjenesten", "Use of the service", "pd:BehaviouralData"),
    _c("user.behavior.browsing_history", "Besøkte sider", "Pages visited",
       "pd:BrowsingBehavior"),
    _c("user.behavior.purchase_history", "Kjøpshistorikk", "Purchase history",
       "pd:PurchasesAndSpendingHabit"),
    _c("user.behavior.media_consumption", "Lese- og visningshistorikk",
       "Reading and viewing history", "pd:MediaConsumption"),
    _c("user.content", "Innhold du lager", "Content you create", "pd:Communication"),
    _c("user.content.private", "Notater og meldinger", "Notes and messages",
       "pd:PrivateCommunication"),
    _c("user.content.self_image", "Profilbilde", "Profile picture", "pd:Photograph"),
    _c("user.device", "Enhetsopplysninger", "Device information", "pd:DeviceBased"),
    _c("user.device.ip_address", "IP-adresse", "IP address", "pd:IPAddress"),
    _c("user.device.cookie_id", "Informasjonskapsel-ID", "Cookie identifier", "pd:Cookie"),
    _c("user.device.device_id", "Enhets-ID", "Device identifier", "pd:DeviceSoftware"),
    _c("user.location", "Posisjon", "Location", "pd:Location"),
    _c("user.professional_information", "Arbeid og kompetanse", "Work and skills",
       "pd:Professional"),
    _c("user.professional_information.job_title", "Stilling", "Job title", "pd:JobTitle"),
    _c("user.professional_information.workplace", "Arbeidsgiver", "Employer", "pd:Employer"),
    _c("user.professional_information.education", "Utdanning", "Education",
       "pd:EducationQualification"),
    _c("user.professional_information.skills", "Ferdigheter", "Skills", "pd:Skill"),
    _c("user.social_activity", "Aktivitet i sosiale medier", "Social media activity",
       "pd:SocialMediaCommunication"),
    _c("user.children", "Opplysninger om barn", "Data about children", "pd:Child"),
    # GDPR Art. 9(1) special categories.
    _c("user.health", "Helseopplysninger", "Health data", "pd:Health", special=True),
    _c("user.health.genetic", "Genetiske opplysninger", "Genetic data", "pd:Genetic",
       special=True),
    _c("user.biometrics", "Biometriske opplysninger", "Biometric data", "pd:Biometric",
       special=True),
    _c("user.demographic.race_ethnicity", "Etnisk opprinnelse", "Racial or ethnic origin",
       "pd:EthnicOrigin", special=True),
    _c("user.demographic.political_opinion", "Politisk oppfatning", "Political opinion",
       "pd:PoliticalOpinion", special=True),
    _c("user.demographic.religious_belief", "Religiøs overbevisning", "Religious belief",
       "pd:Religion", special=True),
    _c("user.demographic.philosophical_belief", "Filosofisk overbevisning",
       "Philosophical belief", "pd:PhilosophicalBelief", special=True),
    _c("user.demographic.union_membership", "Fagforeningsmedlemskap", "Trade-union membership",
       "pd:TradeUnionMembership", special=True),
    _c("user.demographic.sexual_orientation", "Seksuell legning", "Sexual orientation",
       "pd:SexualOrientation", special=True),
    # Art. 10: not Art. 9, but as strictly limited; checks treat it alike.
    _c("user.criminal_history", "Straffedommer og lovovertredelser",
       "Criminal convictions and offences", "pd:CriminalOffense", special=True),
]

BUILTIN_CATEGORIES: dict[str, BuiltinCategory] = {c.key: c for c in _ALL}


def categories_meet(ours: Sequence[str], theirs: Sequence[str]) -> bool:
    """Whether two lists of category keys share data: the same key, or one a parent of the
    other (``user.contact`` covers ``user.contact.email``)."""
    return any(a == b or a.startswith(b + ".") or b.startswith(a + ".")
               for a in ours for b in theirs)
