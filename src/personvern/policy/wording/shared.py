"""Saying once what several things share: the same statement about several purposes or
recipients is written once, naming them, instead of once under each (issue 12, item 7)."""

from __future__ import annotations

from collections.abc import Sequence

from personvern.policy.document import Inline


def text_of(runs: Inline) -> str:
    """The words of ``runs``, as a reader sees them (the key two statements are equal by)."""
    return " ".join("".join(r.text for r in runs).split())


def shared_statements(
    owners: Sequence[tuple[str, Sequence[Inline]]],
) -> tuple[dict[str, list[Inline]], list[tuple[Inline, list[str]]]]:
    """Split each owner's statements into its own and those it shares with another.

    ``owners`` is ``[(owner id, statements)]``. Returns the statements only one owner
    has, by owner, and each shared statement once with its owners in their order.
    """
    holders: dict[str, list[str]] = {}
    first: dict[str, Inline] = {}
    for owner, statements in owners:
        for st in statements:
            key = text_of(st)
            if owner not in holders.setdefault(key, []):
                holders[key].append(owner)
            first.setdefault(key, st)
    alone: dict[str, list[Inline]] = {}
    for owner, statements in owners:
        alone[owner] = [st for st in statements if len(holders[text_of(st)]) == 1]
    shared = [(first[key], ids) for key, ids in holders.items() if len(ids) > 1]
    return alone, shared
