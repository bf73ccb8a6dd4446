"""The authors' notes (``note:``): shown to the author by ``check``, never published."""

from __future__ import annotations

from collections.abc import Iterator

from personvern.check.registry import Hit, Severity, rule
from personvern.law import Jurisdiction
from personvern.manifest.model import Manifest
from personvern.manifest.notes import notes


@rule("PV062", "author-note", Severity.INFO,
      "An author's note (not published)", "GDPR Art. 5(2)")
def author_note(m: Manifest, j: Jurisdiction) -> Iterator[Hit]:
    """The author's `note:` fields record why the manifest says what it says (the
    accountability of Art. 5(2)). They are shown here and in the record of
    processing's internal view, never in the published policy."""
    for loc, text in notes(m):
        yield loc, f"note: {text}"
