"""The HTTP face of Personvern: the ``/api/v1/`` API (and, later, portal and dashboard)."""

from __future__ import annotations

from personvern.web.app import create_app

__all__ = ["create_app"]
