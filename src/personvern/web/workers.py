"""Several uvicorn worker processes for ``personvern serve --workers N``.

uvicorn starts each worker by importing ``app_from_env`` (an app factory), so what the
command line said reaches the workers through the environment: the settings as
``PERSONVERN_*`` variables, ``--now`` and the shared export directory in the two below.
Each worker has its own decision cache (it follows the ledger within a second); the
sign-in limits are in the database, shared; the retention sweep runs in one worker only
(a file lock).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

NOW_ENV = "PERSONVERN_SERVE_NOW"
EXPORT_DIR_ENV = "PERSONVERN_SERVE_EXPORT_DIR"
SWEEP_LOCK = "retention-sweep.lock"


def app_from_env() -> FastAPI:
    """The app for one worker, from the environment ``serve`` prepared."""
    from personvern.clock import parse_now
    from personvern.settings import get_settings
    from personvern.web.app import create_app

    exports = os.environ.get(EXPORT_DIR_ENV)
    return create_app(get_settings(), parse_now(os.environ.get(NOW_ENV)),
                      export_dir=Path(exports) if exports else None)


def sweep_lock(directory: Path) -> IO[bytes] | None:
    """The lock that makes this process the one that runs the daily retention sweep (the
    first to take it), held until the caller closes it; None when another holds it."""
    handle = (directory / SWEEP_LOCK).open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle
