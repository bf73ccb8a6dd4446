"""The record of processing activities (GDPR Art. 30), built from the manifest.

    record = build_record(manifest, "nb")          # Art. 30(1), the controller's record
    proc = build_processor_record(manifest, "en")  # Art. 30(2), None unless a processor
    to_csv(record), to_html(record), to_jsonld(record)

The record is data (frozen dataclasses, texts already in one language); the
exports in :mod:`personvern.ropa.export` only lay it out.
"""

from personvern.ropa.export import (
    CSV_COLUMNS,
    processor_to_csv,
    processor_to_html,
    processor_to_jsonld,
    to_csv,
    to_html,
    to_jsonld,
)
from personvern.ropa.record import (
    Activity,
    ProcessorRecord,
    Record,
    build_processor_record,
    build_record,
)

__all__ = [
    "CSV_COLUMNS",
    "Activity",
    "ProcessorRecord",
    "Record",
    "build_processor_record",
    "build_record",
    "processor_to_csv",
    "processor_to_html",
    "processor_to_jsonld",
    "to_csv",
    "to_html",
    "to_jsonld",
]
