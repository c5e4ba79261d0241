"""Benchmark of leak control and junk refusal on the hand-built sets of ``evaluation/``.

Run:  .venv/bin/python -m benchmarks.refusals [--half dev|heldout|all|blind|blind2] [--json OUT]
      .venv/bin/python -m benchmarks.refusals --half dev --errors   (dev only)

Every text goes through the game's whole acceptance rule
(:func:`processing.nlp.refusals.check_characteristic`) as a round would run it:

* ``leaks/leaks.jsonl`` (must be refused) and ``leaks/legit.jsonl`` (must pass): checked
  against the names and aliases of the record's class, with the class's forbidden terms set as
  an admin would set them (every ``term`` of the class's ``translation`` and ``synonym``
  records). ``translation`` and ``synonym`` leaks can only be caught through those terms, so
  they are reported apart from the variants caught by normalisation;
* ``junk/junk.jsonl`` (must be refused) and ``junk/legit_short.jsonl`` (must pass): no class
  terms, the campaign accepting English only;
* ``grouping/labels.jsonl`` (player-style labels, typos included: all must pass): against
  their own class's names, aliases and forbidden terms — an extra false-refusal figure;
* ``leaks/attacks2.jsonl`` (must be refused as ``class_name``) and ``leaks/legit2.jsonl`` (must
  not be): the generated sets of the second attacker review (small capitals, upside-down text,
  head words; ``leaks/src/attacks2.py``), against the class names only (no aliases, no
  forbidden terms); only ``class_name`` refusals count there.

``--baseline`` measures the rule the game had before (form checks, then class names and aliases
as whole words, plural or possessive; the forbidden terms given to it as aliases).

``--half blind`` scores ``refusals_blind/`` (junk, legit, leaks and their legit counterparts,
written after the rules by a session that never read them) as a whole, once; ``--half blind2``
``refusals_blind2/`` (junk and legit, written blind before the letter model and the spam rule
were finished).

Halves: ``evaluation/grouping/split.json`` (whole classes; also used for the leak sets) and
``evaluation/junk/split.json``. Rules were tuned on ``dev``; ``heldout`` is for reporting.
``--errors`` lists the misses and false refusals, for the development half only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from processing.nlp.clean import REASON_MESSAGES, compile_class_terms
from processing.nlp.refusals import Refusal, check_characteristic

EVALUATION = Path(__file__).resolve().parents[1] / "evaluation"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_sets(half: str, root: Path = EVALUATION) -> dict[str, list[dict]]:
    """The records of each set in ``half`` ("dev", "heldout" or "all")."""
    split = json.loads((root / "grouping" / "split.json").read_text(encoding="utf-8"))
    junk_split = json.loads((root / "junk" / "split.json").read_text(encoding="utf-8"))

    def by_class(records: list[dict]) -> list[dict]:
        if half == "all":
            return records
        return [r for r in records if r["class"] in split[half]]

    def by_hash(records: list[dict], name: str) -> list[dict]:
        if half == "all":
            return records
        held = set(junk_split["heldout"][name])
        return [r for r in records if (r["text"] in held) == (half == "heldout")]

    classes = {
        c["class"]: c
        for c in json.loads((root / "classes.json").read_text(encoding="utf-8"))["classes"]
    }
    grouping = by_class(_jsonl(root / "grouping" / "labels.jsonl"))
    for r in grouping:
        r["class_names"] = classes[r["class"]]["class_names"]
        r["aliases"] = classes[r["class"]]["aliases"]
    return {
        "leaks": by_class(_jsonl(root / "leaks" / "leaks.jsonl")),
        "legit": by_class(_jsonl(root / "leaks" / "legit.jsonl")),
        "junk": by_hash(_jsonl(root / "junk" / "junk.jsonl"), "junk"),
        "legit_short": by_hash(_jsonl(root / "junk" / "legit_short.jsonl"), "legit_short"),
        "grouping": grouping,
        "attacks2": by_class(_jsonl(root / "leaks" / "attacks2.jsonl")),
        "legit2": by_class(_jsonl(root / "leaks" / "legit2.jsonl")),
    }


def forbidden_by_class(root: Path = EVALUATION) -> dict[str, tuple[str, ...]]:
    """Per class, the forbidden terms an admin would add: every ``term`` of its leak records."""
    out: dict[str, list[str]] = defaultdict(list)
    for r in _jsonl(root / "leaks" / "leaks.jsonl"):
        if r.get("term") and r["term"] not in out[r["class"]]:
            out[r["class"]].append(r["term"])
    return {k: tuple(v) for k, v in out.items()}


def legacy_check(raw: str, *, class_names=(), aliases=(), forbidden=()) -> Refusal | None:
    """The rule before issue 12 (form checks, then class names and aliases as whole words,
    plural or possessive), with the forbidden terms given to it as aliases: the baseline."""
    refusal = check_characteristic(raw, junk=False)  # form checks only (no class names)
    if refusal is not None:
        return refusal
    found = compile_class_terms(class_names, [*aliases, *forbidden]).find(raw.lower().strip())
    return Refusal("class_name", REASON_MESSAGES["class_name"]) if found else None


def _check(record: dict, forbidden: dict[str, tuple[str, ...]], rule=check_characteristic):
    if "class_names" in record:
        return rule(
            record["text"],
            class_names=[record["class_names"]],
            aliases=record.get("aliases") or (),
            forbidden=forbidden.get(record["class"], ()),
        )
    return rule(record["text"])


def evaluate(half: str, root: Path = EVALUATION, *, baseline: bool = False) -> dict:
    """Catch and false-refusal rates of every set of ``half``, per kind and overall
    (``baseline``: of :func:`legacy_check`, the rule before issue 12)."""
    sets = load_sets(half, root)
    forbidden = forbidden_by_class(root)
    rule = legacy_check if baseline else check_characteristic
    report: dict = {"half": half, "rule": "baseline (before issue 12)" if baseline else "current"}
    errors: dict[str, list] = {}
    timings: list[float] = []
    for name, records in sets.items():
        must_refuse = name in ("leaks", "junk", "attacks2")
        leak_only = name in ("attacks2", "legit2")  # class names only; class_name counts
        per_kind: dict[str, Counter] = defaultdict(Counter)
        reasons: Counter = Counter()
        wrong = []
        for r in records:
            t0 = time.perf_counter()
            refusal = _check(r, {} if leak_only else forbidden, rule)
            timings.append(time.perf_counter() - t0)
            refused = refusal is not None and (not leak_only or refusal.reason == "class_name")
            kind = r.get("kind", "")
            if name == "leaks" and kind in ("translation", "synonym"):
                kind = f"{kind} (forbidden terms)"
            per_kind[kind]["n"] += 1
            per_kind[kind]["refused"] += refused
            if refused:
                reasons[refusal.reason] += 1
            if refused != must_refuse:
                wrong.append(
                    (
                        r.get("class", ""),
                        r.get("kind", ""),
                        r["text"],
                        refusal.reason if refusal else "",
                    )
                )
        n = len(records)
        refused_total = sum(c["refused"] for c in per_kind.values())
        entry = {
            "n": n,
            "refused": refused_total,
            "rate": refused_total / n if n else 0.0,
            "per_kind": {
                k: {"n": c["n"], "refused": c["refused"], "rate": c["refused"] / c["n"]}
                for k, c in sorted(per_kind.items())
            },
            "reasons": dict(reasons.most_common()),
        }
        if name == "leaks":
            normal = [r for k, r in entry["per_kind"].items() if "forbidden" not in k]
            entry["normalisation"] = _pool(normal)
            entry["forbidden_terms"] = _pool(
                [r for k, r in entry["per_kind"].items() if "forbidden" in k]
            )
            entry["by_leak_check"] = reasons.get("class_name", 0) / n if n else 0.0
        if name == "legit":
            hard = [r for r in records if r.get("hard")]
            hard_refused = sum(
                1 for w in wrong if any(h["text"] == w[2] and h["class"] == w[0] for h in hard)
            )
            entry["hard"] = {"n": len(hard), "refused": hard_refused}
        report[name] = entry
        errors[name] = wrong
    timings.sort()
    report["check_ms"] = {
        "p50": 1000 * timings[len(timings) // 2],
        "p99": 1000 * timings[int(len(timings) * 0.99)],
    }
    report["_errors"] = errors
    return report


def evaluate_blind(root: Path = EVALUATION, folder: str = "refusals_blind") -> dict:
    """``--half blind``: the sets of ``refusals_blind/``, written after the rules by a session
    that never read them, scored once as a whole with the game's whole acceptance rule (any
    refusal counts: a translated class name refused as another language is refused all the
    same). Junk and legit carry no class; leaks and their legit counterparts are checked
    against their class's names only (no aliases, no forbidden terms set)."""
    blind = root / folder
    pairs = _jsonl(blind / "leaks.jsonl") if (blind / "leaks.jsonl").exists() else []
    sets = {
        "junk": (_jsonl(blind / "junk.jsonl"), True),
        "legit": (_jsonl(blind / "legit.jsonl"), False),
        "leaks": ([r for r in pairs if r["label"] == "leak"], True),
        "leaks_legit": ([r for r in pairs if r["label"] == "legit"], False),
    }
    report: dict = {"half": folder}
    for name, (records, must_refuse) in sets.items():
        if not records:
            continue
        per_kind: dict[str, Counter] = defaultdict(Counter)
        reasons: Counter = Counter()
        for r in records:
            refusal = _check(r, {})
            per_kind[r.get("kind", "")]["n"] += 1
            per_kind[r.get("kind", "")]["refused"] += refusal is not None
            if refusal is not None:
                reasons[refusal.reason] += 1
        n = len(records)
        refused = sum(c["refused"] for c in per_kind.values())
        report[name] = {
            "n": n,
            "refused": refused,
            "rate": refused / n if n else 0.0,
            "must_refuse": must_refuse,
            "per_kind": {
                k: {"n": c["n"], "refused": c["refused"], "rate": c["refused"] / c["n"]}
                for k, c in sorted(per_kind.items())
            },
            "reasons": dict(reasons.most_common()),
        }
    return report


def print_blind(report: dict, out=None) -> None:
    out = out or sys.stdout
    for name in ("junk", "legit", "leaks", "leaks_legit"):
        e = report.get(name)
        if e is None:
            continue
        what = "refused (must be)" if e["must_refuse"] else "refused (false refusals)"
        print(f"\n{name}: {what} {e['refused']}/{e['n']} = {_pct(e['rate'])}", file=out)
        for kind, r in e["per_kind"].items():
            print(f"    {kind:32s} {r['refused']:4d}/{r['n']:<4d} {_pct(r['rate'])}", file=out)
        print(f"  reasons: {e['reasons']}", file=out)


def _pool(rows: list[dict]) -> dict:
    n = sum(r["n"] for r in rows)
    refused = sum(r["refused"] for r in rows)
    return {"n": n, "refused": refused, "rate": refused / n if n else 0.0}


def _pct(x: float) -> str:
    return f"{100 * x:5.1f} %"


def print_report(report: dict, *, show_errors: bool = False, out=None) -> None:
    out = out or sys.stdout
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"Refusal benchmark, half: {report['half']}, rule: {report.get('rule', 'current')}")
    leaks = report["leaks"]
    p(f"\nLeaks refused (must be refused): {leaks['refused']}/{leaks['n']} = {_pct(leaks['rate'])}")
    p(
        f"  caught by normalisation: {leaks['normalisation']['refused']}/"
        f"{leaks['normalisation']['n']} = {_pct(leaks['normalisation']['rate'])}; "
        f"through forbidden terms: {leaks['forbidden_terms']['refused']}/"
        f"{leaks['forbidden_terms']['n']} = {_pct(leaks['forbidden_terms']['rate'])}"
    )
    for name, title in (
        ("leaks", "per kind (refused)"),
        ("legit", "Legitimate characteristics (leaks/legit.jsonl), refused per kind"),
        ("junk", "Junk refused per kind"),
        ("legit_short", "Legitimate short labels (junk/legit_short.jsonl), refused per kind"),
    ):
        entry = report[name]
        if name != "leaks":
            p(f"\n{title}: {entry['refused']}/{entry['n']} = {_pct(entry['rate'])}")
        else:
            p(f"  {title}:")
        for kind, r in entry["per_kind"].items():
            p(f"    {kind:32s} {r['refused']:4d}/{r['n']:<4d} {_pct(r['rate'])}")
        p(f"  reasons: {entry['reasons']}")
    legit = report["legit"]
    p(
        f"\nLegit pass rate: {_pct(1 - legit['rate'])} "
        f"(hard cases refused: {legit['hard']['refused']}/{legit['hard']['n']})"
    )
    g = report["grouping"]
    p(
        f"Grouping labels (grouping/labels.jsonl) refused: {g['refused']}/{g['n']} = "
        f"{_pct(g['rate'])}  reasons: {g['reasons']}"
    )
    p(
        f"\nSummary: leak catch {_pct(leaks['rate'])} · legit pass {_pct(1 - legit['rate'])} · "
        f"junk catch {_pct(report['junk']['rate'])} · false refusals on legit_short "
        f"{_pct(report['legit_short']['rate'])} · on grouping labels {_pct(g['rate'])}"
    )
    p(
        f"Check time per text: p50 {report['check_ms']['p50']:.2f} ms, p99 "
        f"{report['check_ms']['p99']:.2f} ms"
    )
    for name, title in (
        ("attacks2", "Second review attacks (leaks/attacks2.jsonl), refused as class_name"),
        ("legit2", "Its legitimate counterpart (leaks/legit2.jsonl), refused as class_name"),
    ):
        entry = report[name]
        p(f"\n{title}: {entry['refused']}/{entry['n']} = {_pct(entry['rate'])}")
        for kind, r in entry["per_kind"].items():
            p(f"    {kind:32s} {r['refused']:4d}/{r['n']:<4d} {_pct(r['rate'])}")
    if show_errors:
        for name, wrong in report["_errors"].items():
            if wrong:
                p(f"\n-- {name}: {len(wrong)} wrong")
                for w in wrong:
                    p("   ", w)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--half", choices=("dev", "heldout", "all", "blind", "blind2"), default="heldout"
    )
    parser.add_argument("--json", help="write the figures (without the texts) to this file")
    parser.add_argument(
        "--errors", action="store_true", help="list misses and false refusals (dev half only)"
    )
    parser.add_argument(
        "--baseline", action="store_true", help="measure the rule before issue 12 instead"
    )
    args = parser.parse_args(argv)
    if args.errors and args.half != "dev":
        parser.error("--errors lists texts: only for --half dev (held-out texts stay unseen)")
    if args.half in ("blind", "blind2"):
        report = evaluate_blind(
            folder={"blind": "refusals_blind"}.get(args.half, "refusals_blind2")
        )
        print_blind(report)
    else:
        report = evaluate(args.half, baseline=args.baseline)
        print_report(report, show_errors=args.errors)
    if args.json:
        data = {k: v for k, v in report.items() if k != "_errors"}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
