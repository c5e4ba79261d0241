#!/usr/bin/env python3
"""Print counts of every evaluation set and check the minimums and invariants.

Pure Python, no dependencies.  Exit status 1 when a check fails.
    python3 evaluation/count.py
"""

import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MINIMUMS = {
    "grouping labels": 2200,
    "grouping classes": 22,
    "leak variants": 350,
    "leak classes": 22,
    "legit characteristics": 550,
    "legit hard cases": 120,
    "legit classes": 22,
    "junk inputs": 250,
    "legit short labels": 550,
}
errors = []


def load(rel):
    path = ROOT / rel
    if not path.exists():
        errors.append(f"missing {rel}")
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def table(title, counter):
    print(f"  {title}:")
    for key, n in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        print(f"    {n:5d}  {key}")


def need(name, value):
    ok = value >= MINIMUMS[name]
    print(f"  check {name}: {value} >= {MINIMUMS[name]} {'ok' if ok else 'FAIL'}")
    if not ok:
        errors.append(f"{name}: {value} < {MINIMUMS[name]}")


def words(text):
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def class_terms():
    data = json.loads((ROOT / "classes.json").read_text(encoding="utf-8"))
    terms = {}
    for c in data["classes"]:
        names = [n.strip() for n in c["class_names"].split(",")] + c["aliases"]
        terms[c["class"]] = sorted({words(n) for n in names})
    return terms


def grouping(terms):
    recs = load("grouping/labels.jsonl")
    print(f"grouping/labels.jsonl: {len(recs)} labels")
    by_class = Counter(r["class"] for r in recs)
    concepts = defaultdict(list)
    for r in recs:
        concepts[r["concept"]].append(r)
    table("per kind", Counter(r["kind"] for r in recs))
    per_class_concepts = Counter(c.split("/")[0] for c in concepts)
    print("  per class: labels / concepts")
    for cls in sorted(by_class):
        print(f"    {by_class[cls]:5d} / {per_class_concepts[cls]:3d}  {cls}")
    sizes = Counter(len(v) for v in concepts.values())
    print(
        f"  concepts: {len(concepts)}; labels per concept: "
        + ", ".join(f"{k}:{v}" for k, v in sorted(sizes.items()))
    )
    hard = sum(1 for v in concepts.values() if any("hard_negative_of" in r for r in v))
    print(f"  hard-negative concepts (or concepts with hard-negative labels): {hard}")
    need("grouping labels", len(recs))
    need("grouping classes", len(by_class))
    ids, seen, exact = set(), {}, set()
    for r in recs:
        where = f"{r['id']} {r['text']!r}"
        if r["id"] in ids:
            errors.append(f"duplicate id {where}")
        ids.add(r["id"])
        if not 2 <= len(r["text"]) <= 40:
            errors.append(f"length not in 2..40: {where}")
        if not r["concept"].startswith(r["class"] + "/"):
            errors.append(f"concept not in class: {where}")
        key = (r["class"], r["text"].casefold())
        if key in seen and seen[key] != r["concept"]:
            errors.append(f"same text in two concepts of one class: {where}")
        elif (r["class"], r["text"]) in exact:
            errors.append(f"duplicate text in a concept: {where}")
        elif key in seen and r["kind"] != "noise":
            errors.append(f"case-only variant not marked noise: {where}")
        exact.add((r["class"], r["text"]))
        seen[key] = r["concept"]
        neg = r.get("hard_negative_of")
        if neg and neg not in concepts:
            errors.append(f"hard_negative_of names no concept: {where} -> {neg}")
        w = f" {words(r['text'])} "
        for term in terms[r["class"]]:
            if f" {term} " in w or term.replace(" ", "") in w.replace(" ", ""):
                errors.append(f"label contains a class name or alias {term!r}: {where}")
    for concept, members in concepts.items():
        n = len(members)
        if not 5 <= n <= 15:
            errors.append(f"concept {concept!r} has {n} labels (want 5..15)")
        if not any(m["kind"] in ("canonical", "hard-negative") for m in members):
            errors.append(f"concept {concept!r} has no canonical label")
    for cls, n in per_class_concepts.items():
        if not 8 <= n <= 16:
            errors.append(f"class {cls!r} has {n} concepts (want 8..16)")
    return sorted(by_class)


def split(classes):
    path = ROOT / "grouping/split.json"
    if not path.exists():
        errors.append("missing grouping/split.json (run evaluation/make_split.py)")
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    dev, held = data["dev"], data["heldout"]
    print(f"grouping/split.json: seed {data['seed']}; dev {len(dev)} classes, heldout {len(held)}")
    print(f"  dev:     {', '.join(dev)}")
    print(f"  heldout: {', '.join(held)}")
    if set(dev) & set(held) or sorted(dev + held) != sorted(classes):
        errors.append("split is not a partition of the grouping classes")
    if abs(len(dev) - len(held)) > 1:
        errors.append("split halves differ by more than one class")


def classed(rel, title, min_name, min_classes, hard_name=None):
    recs = load(rel)
    print(f"{rel}: {len(recs)} {title}")
    table("per kind", Counter(r["kind"] for r in recs))
    by_class = Counter(r["class"] for r in recs)
    table("per class", by_class)
    need(min_name, len(recs))
    need(min_classes, len(by_class))
    if hard_name:
        need(hard_name, sum(1 for r in recs if r.get("hard")))
    seen = set()
    for r in recs:
        key = (r["class"], r["text"])
        if key in seen:
            errors.append(f"duplicate in {rel}: {r['class']} {r['text']!r}")
        seen.add(key)
        if r["kind"] in ("translation", "synonym") and not r.get("term"):
            errors.append(f"{r['kind']} without term: {r['id']}")
    return recs


def plain(rel, title, min_name):
    recs = load(rel)
    print(f"{rel}: {len(recs)} {title}")
    table("per kind", Counter(r["kind"] for r in recs))
    need(min_name, len(recs))
    seen = set()
    for r in recs:
        if r["text"] in seen:
            errors.append(f"duplicate in {rel}: {r['text']!r}")
        seen.add(r["text"])
    return recs


def main():
    terms = class_terms()
    classes = grouping(terms)
    split(classes)
    leaks = classed("leaks/leaks.jsonl", "leak variants", "leak variants", "leak classes")
    legit = classed(
        "leaks/legit.jsonl",
        "legitimate characteristics",
        "legit characteristics",
        "legit classes",
        "legit hard cases",
    )
    for r in legit:
        w = f" {words(r['text'])} "
        for term in terms[r["class"]]:
            if f" {term} " in w:
                errors.append(
                    f"legit text contains a class name or alias {term!r}: {r['id']} {r['text']!r}"
                )
    both = {(r["class"], r["text"].casefold()) for r in leaks} & {
        (r["class"], r["text"].casefold()) for r in legit
    }
    for cls, text in sorted(both):
        errors.append(f"text both leak and legit: {cls} {text!r}")
    junk = plain("junk/junk.jsonl", "junk inputs", "junk inputs")
    short = plain("junk/legit_short.jsonl", "legitimate short labels", "legit short labels")
    for text in sorted(
        {r["text"].casefold() for r in junk} & {r["text"].casefold() for r in short}
    ):
        errors.append(f"text both junk and legit short: {text!r}")
    for r in short:
        if not 1 <= len(r["text"].split()) <= 4:
            errors.append(f"legit short label not 1..4 words: {r['text']!r}")
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print("  " + e)
        sys.exit(1)
    print("\nall checks passed")


if __name__ == "__main__":
    main()
