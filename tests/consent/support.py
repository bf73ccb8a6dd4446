"""What several consent test modules share: a manifest with one consent purpose."""

from __future__ import annotations

from personvern.consent.service import ConsentContext
from personvern.manifest.loader import parse_manifest
from personvern.runtime import EngineSources

MANIFEST = """
personvern: 1
service: {name: Test}
controller: {name: Test AS, orgnr: "923641645", email: a@b.no}
purposes:
  - {id: newsletter, name: Nyhetsbrev, legal_basis: consent, categories: [user.contact.email],
     marketing: {channels: [email]}}
"""


def newsletter_context() -> ConsentContext:
    """The consent rules of MANIFEST (a newsletter on consent), policy version "a" * 64."""
    return ConsentContext.of(parse_manifest(MANIFEST).manifest, "a" * 64, EngineSources())
