"""Counted nouns in messages: "1 note", "2 notes", "1,497 rows"."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` with the noun in the number it takes; ``plural`` when not singular + "s"."""
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"
