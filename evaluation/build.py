#!/usr/bin/env python3
"""Convert the hand-written sources under evaluation/*/src/ into the JSON Lines sets.

This is a format conversion only: every label, leak variant, legitimate
characteristic and junk input is written by hand in the src/*.txt files; nothing is
generated, expanded or filtered by rules of the application.  Pure Python, no
dependencies.  Run from anywhere:  python3 evaluation/build.py
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")

GROUPING_KINDS = {
    "c": "canonical",
    "t": "typo",
    "p": "plural",
    "x": "paraphrase",
    "m": "modifier",
    "a": "abbreviation",
    "s": "spelling",
    "n": "noise",
    "h": "hard-negative",
}
LEAK_KINDS = {
    "exact",
    "plural",
    "possessive",
    "misspelling",
    "spaces",
    "punctuation",
    "homoglyph",
    "nfkc",
    "invisible",
    "diacritics",
    "compound",
    "phrase",
    "translation",
    "leetspeak",
    "repeated",
    "diminutive",
    "synonym",
}
LEGIT_KINDS = {
    # ordinary characteristics
    "part",
    "colour",
    "texture",
    "shape",
    "context",
    # hard cases (see README: decision table)
    "substring",
    "near-spelling",
    "name-word",
    "false-friend",
}
HARD_LEGIT = {"substring", "near-spelling", "name-word", "false-friend"}
JUNK_KINDS = {
    "mash",
    "repeated-char",
    "repeated-word",
    "placeholder",
    "code",
    "no-letters",
    "emoji",
    "lorem",
    "foreign-latin",
    "non-latin",
    "url",
    "email",
    "filler",
}
SHORT_KINDS = {
    "word",
    "short-word",
    "colour",
    "number",
    "abbreviation",
    "hyphenated",
    "spelling",
    "brand",
    "repeated-legit",
    "technical",
    "loanword",
    "lookalike",
    "symbol",
}


def unescape(text):
    return ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def src_lines(folder, stem=""):
    for path in sorted((ROOT / folder / "src").glob(stem + "*.txt")):
        for no, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
            line = raw.rstrip("\r")
            if not line.strip() or line.startswith("#"):
                continue
            yield path.name, no, line


def fail(where, msg):
    sys.exit(f"{where}: {msg}")


def load_classes():
    data = json.loads((ROOT / "classes.json").read_text(encoding="utf-8"))
    return {c["class"]: c for c in data["classes"]}


def build_grouping(classes):
    records, cls, concept, neg_of = [], None, None, None
    for name, no, line in src_lines("grouping"):
        where = f"grouping/src/{name}:{no}"
        if line.startswith("@ "):
            cls = line[2:].strip()
            if cls not in classes:
                fail(where, f"unknown class {cls!r}")
            concept = None
            continue
        if line.startswith("* "):
            body = line[2:]
            concept, _, neg = body.partition(" ! ")
            concept, neg_of = concept.strip(), (neg.strip() or None)
            continue
        code, _, text = line.partition(" ")
        if code not in GROUPING_KINDS or not text or cls is None or concept is None:
            fail(where, f"bad line {line!r}")
        label_neg = None
        if code == "h":
            text, _, explicit = text.partition(" ! ")
            label_neg = explicit.strip() or neg_of
            if not label_neg:
                fail(where, "hard-negative without the concept it may be confused with")
        rec = {
            "id": f"g{len(records) + 1:05d}",
            "class": cls,
            "concept": f"{cls}/{concept}",
            "text": unescape(text),
            "kind": GROUPING_KINDS[code],
        }
        if neg_of or label_neg:
            rec["hard_negative_of"] = f"{cls}/{label_neg or neg_of}"
        records.append(rec)
    return records


def build_classed(folder, stem, kinds, prefix, classes):
    records, cls = [], None
    for name, no, line in src_lines(folder, stem):
        where = f"{folder}/src/{name}:{no}"
        if line.startswith("@ "):
            cls = line[2:].strip()
            if cls not in classes:
                fail(where, f"unknown class {cls!r}")
            continue
        kind, _, text = line.partition(" ")
        lang = None
        if "/" in kind:
            kind, _, lang = kind.partition("/")
        if kind not in kinds or not text or cls is None:
            fail(where, f"bad line {line!r}")
        term = None
        if kind in ("translation", "synonym"):
            text, sep, term = text.partition(" => ")
            if not sep or (kind == "translation" and not lang):
                fail(where, "translation/<lang> and synonym lines need ' => term'")
        meta = classes[cls]
        rec = {
            "id": f"{prefix}{len(records) + 1:04d}",
            "class": cls,
            "class_names": meta["class_names"],
            "aliases": meta["aliases"],
            "text": unescape(text),
            "kind": kind,
        }
        if kind in HARD_LEGIT:
            rec["hard"] = True
        if lang:
            rec["lang"] = lang
        if term:
            rec["term"] = unescape(term)
        records.append(rec)
    return records


def build_plain(folder, src_name, kinds, prefix):
    records = []
    path = ROOT / folder / "src" / src_name
    for no, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        kind, _, text = line.partition(" ")
        lang = None
        if "/" in kind:
            kind, _, lang = kind.partition("/")
        if kind not in kinds or not text:
            fail(f"{folder}/src/{src_name}:{no}", f"bad line {line!r}")
        rec = {"id": f"{prefix}{len(records) + 1:04d}", "text": unescape(text), "kind": kind}
        if lang:
            rec["lang"] = lang
        records.append(rec)
    return records


def write(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"{path.relative_to(ROOT.parent)}: {len(records)} records")


def main():
    classes = load_classes()
    write(ROOT / "grouping" / "labels.jsonl", build_grouping(classes))
    if (ROOT / "leaks" / "src").is_dir():
        write(
            ROOT / "leaks" / "leaks.jsonl",
            build_classed("leaks", "leaks", LEAK_KINDS, "k", classes),
        )
        write(
            ROOT / "leaks" / "legit.jsonl",
            build_classed("leaks", "legit", LEGIT_KINDS, "p", classes),
        )
    if (ROOT / "junk" / "src" / "junk.txt").exists():
        write(ROOT / "junk" / "junk.jsonl", build_plain("junk", "junk.txt", JUNK_KINDS, "j"))
    if (ROOT / "junk" / "src" / "legit_short.txt").exists():
        write(
            ROOT / "junk" / "legit_short.jsonl",
            build_plain("junk", "legit_short.txt", SHORT_KINDS, "s"),
        )


if __name__ == "__main__":
    main()
