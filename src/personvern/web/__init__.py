"""The HTTP face of Personvern: the ``/api/v1/`` API, the subject portal and the banner.

``create_app`` is imported on first use, so ``import personvern.web`` does not load
FastAPI; the routes import the core inside their functions for the same reason (the CLI's
start-up, ``personvern serve --help`` included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from personvern.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from personvern.web.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
