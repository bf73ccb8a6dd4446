"""Every table of every feature, imported together so the metadata is complete.

Alembic's env and the models-vs-migrations test import this module.
"""

from personvern.consent import tables as consent_tables
from personvern.storage import models
from personvern.storage.models import Base

__all__ = ["Base", "consent_tables", "models"]
