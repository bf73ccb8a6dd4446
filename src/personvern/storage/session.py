"""Sessions on an engine: one transaction per unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from personvern.storage.engine import storage_errors

# In a session's ``info``: its commits are savepoints of a transaction that is rolled back
# (a rehearsal, e.g. the retention plan), so nothing it "commits" is kept.
NOTHING_KEPT = "personvern.nothing_kept"


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory for ``engine``; objects stay readable after commit."""
    # expire_on_commit=False: results are handed to the CLI and API after the commit,
    # and reloading them there would open a new transaction for nothing.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session] | Engine) -> Iterator[Session]:
    """A session in one transaction: committed at the end, rolled back on error."""
    maker = make_sessionmaker(factory) if isinstance(factory, Engine) else factory
    bind = maker.kw.get("bind")
    url = bind.url if isinstance(bind, Engine) else "<database>"
    with storage_errors(url), maker.begin() as session:
        yield session
