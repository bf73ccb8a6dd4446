"""The map against the live data (`personvern check --datasets`): what the databases hold
must be what the manifest declares — GDPR Art. 5(1)(a), 5(2), 13(1)(c) and 30(1)(c).

These rules need the datasets themselves, so plain `check` yields nothing for them; the
comparison is ``personvern.check.drift``, with discovery's bounded, read-only sampling.
"""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest


def _live(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    yield from ()  # judged in check/drift.py against the databases


@rule("PV080", "mapped-table-missing", Severity.ERROR,
      "A mapped table is not in the database", "GDPR Art. 5(2), Art. 30(1)(c)", data=True)
def mapped_table_missing(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The data map names a table the dataset does not have: access, erasure and retention
    would find nothing there and say so as if nothing were held. Evaluated by
    `check --datasets`."""
    return _live(m, j)


@rule("PV081", "mapped-column-missing", Severity.ERROR,
      "A mapped column is not in its table", "GDPR Art. 5(2), Art. 17(1)", data=True)
def mapped_column_missing(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A column the map names (a personal-data column, a reference, the key or a date
    column) was dropped or renamed: the walk that erases or exports through it breaks.
    Evaluated by `check --datasets`."""
    return _live(m, j)


@rule("PV082", "undeclared-personal-data", Severity.WARNING,
      "Personal data in a column the map does not declare",
      "GDPR Art. 13(1)(c), Art. 30(1)(c)", data=True)
def undeclared_personal_data(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Discovery finds personal data (e-mail addresses, phone numbers, names, …) in a
    column the map does not declare: the notice and the record of processing do not
    mention it, and requests and retention never reach it. Evaluated by
    `check --datasets`."""
    return _live(m, j)


@rule("PV083", "declared-category-not-seen", Severity.WARNING,
      "A declared column does not hold what the map says", "GDPR Art. 5(1)(d), Art. 30(1)(c)",
      data=True)
def declared_category_not_seen(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """A column is declared as e-mail addresses, phone numbers, national identity numbers
    or IP addresses, but none of its sampled values is one: the map (or the column) is
    wrong, and a request that finds people by it finds nobody. Evaluated by
    `check --datasets`."""
    return _live(m, j)


@rule("PV084", "undeclared-identifiers", Severity.ERROR,
      "National identity or card numbers where the map declares none",
      "personopplysningsloven § 12, GDPR Art. 5(1)(c), Art. 32", data=True)
def undeclared_identifiers(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """Fødselsnummer or D-nummer (which may be processed only where secure identification
    is objectively needed, personopplysningsloven § 12) or payment card numbers are found
    in a column the map does not declare as such. Evaluated by `check --datasets`."""
    return _live(m, j)


@rule("PV085", "dataset-unreadable", Severity.ERROR,
      "A dataset cannot be read", "GDPR Art. 5(2)", data=True)
def dataset_unreadable(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """`check --datasets` could not read a dataset (no URL, unreachable, not a database):
    nothing about it can be shown to match the map. The other datasets are still read."""
    return _live(m, j)
