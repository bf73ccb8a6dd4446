"""A manifest's own categories, declared below the built-in taxonomy, put to use: where one of
them is the very kind a finding names, the proposal names it instead of its built-in parent.

Discovery knows the built-in taxonomy only, so it proposes signing authority as
``user.professional_information``; a manifest that declares
``user.professional_information.signature_rights`` ("Signing authority") has said what the
service calls it, and the proposal should say the same. The match is between what discovery
found (its kind, or the table a person's row points at) and the declared key's last part or
names; never the column's own name, which is the evidence discovery already used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from personvern.discover.scan import RELATES_KIND, UNNAMED, Discovery
from personvern.discover.vocabulary import NAME_ONLY, VOCABULARY, NamedKind
from personvern.manifest.categories import BUILTIN_CATEGORIES


def _word(text: str) -> str:
    """``Signing authority`` and ``signing-authority`` alike: ``signing_authority``."""
    return re.sub(r"[\s-]+", "_", text.strip().lower())


def _singular(word: str) -> str:
    """``driving_schools`` → ``driving_school``, ``categories`` → ``category``."""
    for ending in ("ies", "es", "s"):
        if word.endswith(ending) and len(word) > len(ending) + 2:
            return word[: -len(ending)] + ("y" if ending == "ies" else "")
    return word


def refine(found: Discovery, declared: Mapping[str, Sequence[str]]) -> None:
    """Name a manifest's own category where exactly one declared below a finding's category
    (``declared``: key → its names) is the kind found: the kind's name, or a column name the
    vocabulary gives that kind. A reference from a person's row to a table that one declared
    key names (``driving_schools`` and ``user.driving_school``) is proposed, at the
    confidence of a name."""
    own = {key: names for key, names in declared.items() if key not in BUILTIN_CATEGORIES}
    for table in found.tables:
        outward = {r.column: r.to.split(".", 1)[0] for r in table.references}
        for column in table.columns:
            if column.category is None or column.kind is None:
                continue
            if column.kind == RELATES_KIND:
                if column.name not in outward:
                    continue
                target = _singular(_word(outward[column.name]))
                words: set[str] = {target}
            else:
                if not column.proposed:
                    continue
                words = {_word(column.kind)}
            kinds = [k for k in VOCABULARY if k.name == column.kind]
            below = [key for key in own if key.startswith(column.category + ".")]
            hits = [key for key in below if _is(key, own[key], words, kinds)]
            if len(hits) != 1:
                continue
            [key] = hits
            names = ", ".join(repr(n) for n in own[key])
            said = f"the manifest declares {key}" + (f" ({names})" if names else "")
            if column.kind == RELATES_KIND:
                known = column.note.replace(UNNAMED, "")  # it is named now
                column.note = (f"{said}, and this person's row points at "
                               f"{outward[column.name]}; {known}")
                column.confidence = max(column.confidence, NAME_ONLY)
            else:
                column.note += f"; {said} below {column.category}: named so"
            column.category = key


def _is(key: str, names: Sequence[str], words: set[str], kinds: list[NamedKind]) -> bool:
    """Whether declared ``key`` (its last part or a name) is one of ``words``, or a column
    name the vocabulary gives one of ``kinds``."""
    mine = {_word(key.rsplit(".", 1)[-1])} | {_word(n) for n in names}
    if mine & words or {_singular(w) for w in mine} & words:
        return True
    return any(kind.names.search(word) for kind in kinds for word in mine)


def declared_in(path: str) -> dict[str, list[str]]:
    """The categories the manifest at ``path`` declares, each with its names (any
    language); ManifestError if it cannot be read or is not valid."""
    # Loaded here: only --categories-from needs the manifest's loader (and its pydantic
    # models); plain discovery starts without it.
    from personvern.manifest.loader import load_manifest

    return {c.id: list(c.name.root.values()) if c.name else []
            for c in load_manifest(path).manifest.categories}
