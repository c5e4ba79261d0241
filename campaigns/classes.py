"""Class names as admins write them: in archive folders, CSV rows, alias and forbidden-term lines."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[_\-]+", " ", text).split())


def class_resolver(classes: Iterable[str], aliases: Mapping[str, Iterable[str]] | None = None):
    """A function mapping a folder or CSV class name to a campaign class (or None).

    Exact names first; then case-, underscore- and dash-insensitive names; then aliases.
    """
    classes = list(classes)
    exact = set(classes)
    loose: dict[str, str] = {}
    for name in classes:
        loose.setdefault(_norm(name), name)
        # "tabby, tabby cat" may be written as its first synonym, "tabby"
        first = name.split(",")[0]
        loose.setdefault(_norm(first), name)
    for name, names in (aliases or {}).items():
        if name in exact:
            for alias in names:
                loose.setdefault(_norm(alias), name)

    def resolve(text: str) -> str | None:
        text = text.strip()
        if text in exact:
            return text
        return loose.get(_norm(text))

    return resolve
