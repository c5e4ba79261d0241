#!/usr/bin/env python3
"""Generate ``evaluation/leaks/attacks2.jsonl`` and ``evaluation/leaks/legit2.jsonl``.

Written *before* the rules they measure were changed (second attacker review of issue 12:
Latin small capitals, turned and upside-down letters, and the head word of a multi-word name).
Deterministic: the same ``evaluation/classes.json``, ``leaks/legit.jsonl`` and wordfreq give
the same files. Run from the repository root::

    .venv/bin/python evaluation/leaks/src/attacks2.py

Every record is checked against its class's **names only** (``aliases`` is empty: a campaign
that set no alias, the case where a head word such as ``cat`` is only a head word) and no
forbidden terms. Both sets are split by whole classes with ``evaluation/grouping/split.json``.

``attacks2.jsonl`` (must be refused as ``class_name``), per class, on its first name and on the
head word (last word) of each multi-word name:

* ``smallcaps``: every letter as its LATIN LETTER SMALL CAPITAL where Unicode has one;
* ``superscript``: every letter as its MODIFIER LETTER SMALL (CAPITAL) form where one exists;
* ``upside-down``: the order reversed and each letter rotated (the usual upside-down table:
  TURNED letters, b/q, d/p, n/u);
* ``mirrored-letters``: in place, the vowels as REVERSED or TURNED letters, ``r`` as ``ʀ``;
* ``spaced`` and ``split``: the head word letter-spaced, or cut in two by a space or hyphen;
* ``head-suffix``: the head word plus -like, -ish, -esque, -shaped or -less (glued);
* ``head-typo``: the head word (5 letters or more) with one edit that is no English word;
* ``repeated``: the head word with one letter tripled;
* ``reported``: the attacker's own examples, verbatim.

``legit2.jsonl`` (must pass the leak check):

* ``smallcaps-legit`` / ``upside-down-legit``: the class's own legitimate characteristics
  (``leaks/legit.jsonl``, first ones in file order, hard cases excluded) rendered the same way;
* ``shares-letters``: frequent English words holding the head word (or a one-word name) inside
  them, or sharing its first four letters, that are no inflection or suffix compound of it,
  nor (for a whole name) the name plus an English word, a leak by the decision table of
  ``evaluation/README.md`` (``churchyard``): ``catalog``, ``scatter``, ``springtime``;
* ``head-second``: frequent English compounds ending with the head word (``bobcat``,
  ``football``, ``daylight``): another thing, measured to decide the word + head rule;
* ``reversed-word``: a term spelled backwards when that is an English word (``was``, ``sub``),
  in a short phrase: measured to decide whether text is also read backwards.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path

from wordfreq import top_n_list, zipf_frequency

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = ("like", "ish", "esque", "shaped", "less")
# The usual upside-down table (what "flip text" sites produce), lower case.
UPSIDE_DOWN = {
    "a": "ɐ", "b": "q", "c": "ɔ", "d": "p", "e": "ǝ", "f": "ɟ", "g": "ƃ", "h": "ɥ", "i": "ᴉ",
    "j": "ɾ", "k": "ʞ", "l": "l", "m": "ɯ", "n": "u", "o": "o", "p": "d", "q": "b", "r": "ɹ",
    "s": "s", "t": "ʇ", "u": "n", "v": "ʌ", "w": "ʍ", "x": "x", "y": "ʎ", "z": "z",
}  # fmt: skip
REPORTED = {
    "espresso": ["ᴇsᴘʀᴇssᴏ", "ossǝɹdsǝ", "ɘspʀɘsso"],
    "tabby": ["ᴛᴀʙʙʏ ᴄᴀᴛ", "catlike", "catish", "kittycat", "tomcat", "c a t", "caaat"],
    "football helmet": ["ʜᴇʟᴍᴇᴛ", "helmetlike", "hel met", "hel-met", "helmit"],
    "daisy": ["ᴅᴀɪꜱʏ"],
    "English springer": ["springerlike", "spanielish", "spanyel"],
}


def _lookup(*names: str) -> str | None:
    for name in names:
        try:
            return unicodedata.lookup(name)
        except KeyError:
            continue
    return None


def smallcaps(text: str) -> str:
    return "".join(
        (_lookup(f"LATIN LETTER SMALL CAPITAL {c.upper()}") or c) if c.isalpha() else c
        for c in text.lower()
    )


def superscript(text: str) -> str:
    return "".join(
        (_lookup(f"MODIFIER LETTER SMALL {c.upper()}", f"MODIFIER LETTER CAPITAL {c.upper()}") or c)
        if c.isalpha()
        else c
        for c in text.lower()
    )


def upside_down(text: str) -> str:
    return "".join(UPSIDE_DOWN.get(c, c) for c in reversed(text.lower()))


def mirrored_letters(text: str) -> str:
    out = []
    for c in text.lower():
        if c in "aeiou":
            c = (
                _lookup(f"LATIN SMALL LETTER REVERSED {c.upper()}")
                or _lookup(f"LATIN SMALL LETTER TURNED {c.upper()}")
                or c
            )
        elif c == "r":
            c = "ʀ"
        out.append(c)
    return "".join(out)


def _pick(seq, key: str):
    h = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    return seq[h % len(seq)]


def _english(word: str) -> bool:
    return zipf_frequency(word, "en") >= 1.5


def head_typo(word: str) -> str | None:
    """One edit (a vowel changed, a letter dropped or doubled...) that is no English word."""
    candidates = []
    for i, c in enumerate(word):
        if c in "aeiou":
            candidates += [word[:i] + v + word[i + 1 :] for v in "aeiouy" if v != c]
        if 0 < i < len(word) - 1:
            candidates.append(word[:i] + word[i + 1 :])
        if i < len(word) - 1:
            candidates.append(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    candidates = sorted({c for c in candidates if c != word and not _english(c)})
    return _pick(candidates, word) if candidates else None


def _terms(class_names: str) -> tuple[str, list[str], list[str]]:
    names = [n.strip() for n in class_names.split(",") if n.strip()]
    heads = []
    for n in names:
        words = n.lower().split()
        if len(words) > 1 and len(words[-1]) >= 2 and words[-1] not in heads:
            heads.append(words[-1])
    singles = [n.lower() for n in names if " " not in n]
    return names[0], heads, singles


def attacks_for(cls: dict) -> list[tuple[str, str]]:
    first, heads, _ = _terms(cls["class_names"])
    out: list[tuple[str, str]] = []
    for term in [first.lower(), *heads]:
        out += [
            ("smallcaps", smallcaps(term)),
            ("superscript", superscript(term)),
            ("upside-down", upside_down(term)),
            ("mirrored-letters", mirrored_letters(term)),
        ]
    for head in heads:
        mid = len(head) // 2
        out += [
            ("spaced", " ".join(head)),
            ("split", head[:mid] + " " + head[mid:]),
            ("split", head[:mid] + "-" + head[mid:]),
            ("head-suffix", head + _pick(SUFFIXES, head)),
            ("head-suffix", head + _pick(SUFFIXES, head + "2")),
            ("repeated", head[: mid + 1] + head[mid] * 2 + head[mid + 1 :]),
        ]
        if len(head) >= 5 and (typo := head_typo(head)):
            out.append(("head-typo", typo))
    out += [("reported", t) for t in REPORTED.get(cls["class"], [])]
    return _unique(out)


def _unique(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen, unique = set(), []
    for kind, text in rows:
        if text not in seen:
            seen.add(text)
            unique.append((kind, text))
    return unique


def legit_for(cls: dict, legit: list[dict], vocabulary: list[str]) -> list[tuple[str, str]]:
    _, heads, singles = _terms(cls["class_names"])
    names = {n.replace(" ", "").lower() for n in cls["class_names"].split(",")} | set(heads)
    taken = names | {n + s for n in names for s in ("s", "es")}
    own = [r["text"] for r in legit if r["class"] == cls["class"] and not r.get("hard")]
    out = [("smallcaps-legit", smallcaps(t)) for t in own[:6]]
    out += [("upside-down-legit", upside_down(t)) for t in own[6:9]]
    for term in heads + [s for s in singles if len(s) >= 3]:
        derived = {term + s for s in ("s", "es", "'s", *SUFFIXES, "ed", "er", "ers", "y", "ing")}
        if term.endswith("y"):
            derived.add(term[:-1] + "ies")
        if term not in heads:  # name + English word: a compound leak (decision table)
            derived.update(w for w in vocabulary if w.startswith(term) and _english(w[len(term) :]))
        sharing = [
            w
            for w in vocabulary
            if w not in taken
            and w not in derived
            and w.isalpha()
            and (term in w[1:] or w.startswith(term) or (len(term) >= 5 and w[:4] == term[:4]))
            and not w.endswith(term)
        ]
        out += [("shares-letters", w) for w in sharing[:6]]
        if term in heads:
            second = [
                w
                for w in vocabulary
                if w.endswith(term) and w not in taken and _english(w[: -len(term)])
            ]
            out += [("head-second", w) for w in second[:4] if len(w) > len(term) + 2]
        back = term[::-1]
        if back != term and zipf_frequency(back, "en") >= 3.0:
            out.append(("reversed-word", f"it {back} there" if len(back) <= 3 else back))
    return _unique(out)


def main() -> None:
    classes = json.loads((ROOT / "classes.json").read_text(encoding="utf-8"))["classes"]
    legit = [
        json.loads(line)
        for line in (ROOT / "leaks" / "legit.jsonl").read_text(encoding="utf-8").splitlines()
        if line
    ]
    vocabulary = [w for w in top_n_list("en", 40000) if w.isascii()]
    for name, prefix, make in (
        ("attacks2.jsonl", "a", lambda c: attacks_for(c)),
        ("legit2.jsonl", "g", lambda c: legit_for(c, legit, vocabulary)),
    ):
        rows = []
        for cls in classes:
            for kind, text in make(cls):
                rows.append(
                    {
                        "id": f"{prefix}{len(rows) + 1:04d}",
                        "class": cls["class"],
                        "class_names": cls["class_names"],
                        "aliases": [],
                        "text": text,
                        "kind": kind,
                    }
                )
        path = ROOT / "leaks" / name
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
        print(f"{path.relative_to(ROOT.parent)}: {len(rows)} records")


if __name__ == "__main__":
    main()
