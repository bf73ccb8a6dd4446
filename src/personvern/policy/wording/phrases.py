"""The phrase catalogues (``templates/nb.yaml``, ``templates/en.yaml``) and their grammar.

Every sentence of the policy, its diffs and notices comes from the catalogue of its
language. The two are written separately, each for its readers, with the same keys. This
module holds what turns a catalogue entry into text or runs: filling in fields, lists
("a, b and c"), numbers and durations in words, dates and country names, and the small
rules of capitals and full stops.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from string import Formatter
from typing import Any, Literal

from personvern.manifest.types import Duration
from personvern.policy.document import Inline, Run, Value, as_runs

Lang = Literal["nb", "en"]
LANGS: tuple[Lang, ...] = ("nb", "en")
# The catalogues sit beside the format templates, in the policy package's templates/.
CATALOGUES = Path(__file__).parents[1] / "templates"


@functools.cache
def catalogue(lang: str) -> dict[str, Any]:
    """The phrase catalogue of ``lang``, read once."""
    import yaml

    with (CATALOGUES / f"{lang}.yaml").open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


class Phrases:
    """The phrase catalogue of one language, and the small grammar around it."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.data = catalogue(lang)

    def get(self, key: str) -> Any:
        """The raw catalogue entry at a dotted ``key``."""
        node: Any = self.data
        for part in key.split("."):
            node = node[part]
        return node

    def text(self, key: str, **values: object) -> str:
        """A phrase as plain text, its fields filled in."""
        return str(self.get(key)).format(**values)

    def say(self, key: str, **values: Value) -> Inline:
        """A phrase as runs: fields may be links or other runs, kept as they are."""
        out: list[Run] = []
        for literal, name, _spec, _conv in Formatter().parse(str(self.get(key))):
            if literal:
                out.append(Run(literal))
            if name is not None:
                out.extend(as_runs(values[name]))
        return tuple(out)

    def join(self, items: Sequence[Value], conj: str = "and") -> Inline:
        """``a, b and c`` in this language (``conj`` is "and" or "or")."""
        parts = [as_runs(i) for i in items if as_runs(i)]
        out: list[Run] = []
        for n, part in enumerate(parts):
            if n and n == len(parts) - 1:
                out.append(Run(f" {self.get(conj)} "))
            elif n:
                out.append(Run(self.get("list_sep")))
            out.extend(part)
        return tuple(out)

    def plain_join(self, items: Sequence[str], conj: str = "and") -> str:
        """:meth:`join` for plain strings."""
        return "".join(r.text for r in self.join(items, conj))

    def number(self, n: int) -> str:
        """A number in words up to twelve, as house style writes running text."""
        words: list[str | None] = self.get("numbers")
        word = words[n] if 0 < n < len(words) else None
        return word or str(n)

    def amount(self, unit: str, n: int, *, words: bool = True) -> str:
        """``to år``, ``6 months``, ``14 virkedager``."""
        forms = self.get(f"units.{unit}")
        if n == 1:
            return str(forms["one"])
        return str(forms["many"]).format(n=self.number(n) if words else n)

    def duration(self, d: Duration, *, words: bool = True) -> str:
        """A duration in words: ``to år``, ``three years and six months``."""
        if d.unlimited:
            return str(self.get("unlimited"))
        parts = [
            self.amount(unit, n, words=words)
            for unit, n in (("years", d.years), ("months", d.months), ("days", d.days)) if n
        ]
        return self.plain_join(parts) if parts else self.amount("days", 0, words=words)

    def date(self, d: date) -> str:
        """``1. mars 2027`` / ``1 March 2027``."""
        return self.text("date", day=d.day, month=self.get("months")[d.month - 1], year=d.year)

    def country(self, code: str) -> str:
        """The country's name, or its ISO code when the catalogue has none."""
        return str(self.get("countries").get(code, code))


def capitalise(runs: Inline) -> Inline:
    """The runs with the first letter upper-cased (a cell or a sentence start)."""
    if not runs or not runs[0].text:
        return runs
    first = runs[0]
    text = first.text[0].upper() + first.text[1:]
    return (Run(text, first.href, first.strong, first.missing), *runs[1:])


def lower_first(name: str) -> str:
    """``Postadresse`` as ``postadresse`` inside a list; ``IP-adresse`` stays as it is."""
    if len(name) > 1 and name[0].isupper() and not name[1].isupper():
        return name[0].lower() + name[1:]
    return name


def period(text: str) -> str:
    """``text`` ending with a full stop (or the question or exclamation mark it has)."""
    text = text.rstrip()
    return text if not text or text[-1] in ".!?" else text + "."


def join_sentences(parts: Iterable[Inline]) -> Inline:
    """Sentences joined by a space into one paragraph."""
    out: list[Run] = []
    for part in parts:
        if not part:
            continue
        if out:
            out.append(Run(" "))
        out.extend(part)
    return tuple(out)
