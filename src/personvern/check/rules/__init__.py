"""All rules of ``personvern check``; importing this package registers them.

Ids are stable: a rule that is removed leaves its id unused forever.
"""

from personvern.check.rules import (  # noqa: F401
    basis,
    commitments,
    cookies,
    data,
    marketing,
    notes,
    notice,
    practice,
    reach,
    records,
    retention,
    rights,
    sensitive,
    transfers,
)
