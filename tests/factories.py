"""Factories for manifests in tests: valid dicts to start from, and files on disk.

    data = small_manifest_dict()
    data["purposes"][0]["categories"] = ["user.nope"]
    path = write_manifest(tmp_path, data)

Every factory returns a fresh object, so a test may change it freely.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# A valid organisasjonsnummer (mod-11 check digit) that belongs to no real company we know.
VALID_ORGNR = "923456783"
# Nine digits whose check digit is wrong.
INVALID_ORGNR = "923641646"


def minimal_manifest_dict() -> dict[str, Any]:
    """The smallest valid manifest: the schema version, the service and the controller."""
    return {
        "personvern": 1,
        "service": {"name": "Leksehjelp"},
        "controller": {
            "name": "Leksehjelp AS",
            "orgnr": VALID_ORGNR,
            "email": "personvern@leksehjelp.example.no",
        },
    }


def small_manifest_dict() -> dict[str, Any]:
    """A valid manifest with one of each cross-referenced thing.

    Index layout, relied on by tests that break one reference at a time:
    ``subjects``: customer; ``purposes``: [0] account (contract), [1] newsletter (consent);
    ``retention``: after_last_activity; ``recipients``: hosting; ``cookies``: [0] session.
    """
    data = minimal_manifest_dict()
    data.update({
        "subjects": [{"id": "customer", "name": {"nb": "Kunde", "en": "Customer"}}],
        "purposes": [
            {
                "id": "account",
                "name": {"nb": "Brukerkonto", "en": "User account"},
                "legal_basis": "contract",
                "necessary_for_service": True,
                "categories": ["user.name", "user.contact.email"],
                "subjects": ["customer"],
                "retention": "after_last_activity",
                "recipients": ["hosting"],
            },
            {
                "id": "newsletter",
                "name": {"nb": "Nyhetsbrev", "en": "Newsletter"},
                "legal_basis": "consent",
                "categories": ["user.contact.email"],
                "subjects": ["customer"],
                "retention": "after_last_activity",
                "recipients": ["hosting"],
            },
        ],
        "retention": [
            {"id": "after_last_activity", "trigger": "last_activity", "duration": "2 years"},
        ],
        "recipients": [
            {
                "id": "hosting",
                "name": "Example Cloud AB",
                "service": {"nb": "Drift", "en": "Hosting"},
                "country": "SE",
            },
        ],
        "cookies": [
            {
                "name": "session",
                "provider": "leksehjelp.example.no",
                "category": "necessary",
                "purpose": {"nb": "Innlogging", "en": "Signing in"},
                "lifetime": "session",
            },
        ],
    })
    return data


def manifest_yaml(data: dict[str, Any]) -> str:
    """``data`` as YAML text, keys in the order given."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_manifest(
    tmp_path: Path, data_or_text: dict[str, Any] | str | bytes, name: str = "personvern.yaml"
) -> Path:
    """Write a manifest into ``tmp_path`` and return its path.

    A dict is dumped as YAML; a str is written as UTF-8 exactly as given (for broken
    YAML with known line numbers); bytes are written raw (binary or other encodings).
    """
    path = tmp_path / name
    if isinstance(data_or_text, bytes):
        path.write_bytes(data_or_text)
    elif isinstance(data_or_text, str):
        path.write_text(data_or_text, encoding="utf-8")
    else:
        path.write_text(manifest_yaml(data_or_text), encoding="utf-8")
    return path
