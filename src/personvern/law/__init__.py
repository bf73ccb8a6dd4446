"""Law as data: the rules that differ by country live here, nowhere else."""

from personvern.law.jurisdiction import (
    DEFAULT_JURISDICTION,
    EEA_COUNTRIES,
    JURISDICTIONS,
    Authority,
    Jurisdiction,
    age_on,
    get_jurisdiction,
    has_adequacy_decision,
    is_eea,
)

__all__ = [
    "DEFAULT_JURISDICTION",
    "EEA_COUNTRIES",
    "JURISDICTIONS",
    "Authority",
    "Jurisdiction",
    "age_on",
    "get_jurisdiction",
    "has_adequacy_decision",
    "is_eea",
]
