"""Every table of every feature, imported together so the metadata is complete.

Alembic's env and the models-vs-migrations test import this module.
"""

from personvern.breach import tables as breach_tables
from personvern.consent import tables as consent_tables
from personvern.crypto import tables as crypto_tables
from personvern.mail import tables as mail_tables
from personvern.policy import tables as policy_tables
from personvern.requests import tables as request_tables
from personvern.requests import tasks as request_tasks
from personvern.retention import tables as retention_tables
from personvern.staff import tables as staff_tables
from personvern.storage import models
from personvern.storage.models import Base
from personvern.web import tables as web_tables

__all__ = [
    "Base", "breach_tables", "consent_tables", "crypto_tables", "mail_tables", "models",
    "policy_tables", "request_tables", "request_tasks", "retention_tables", "staff_tables",
    "web_tables",
]
