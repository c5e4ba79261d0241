#!/usr/bin/env python3
"""Write the development / held-out splits of every evaluation set.

* grouping/split.json: whole classes to "dev" and "heldout" (also used for leaks/*.jsonl,
  which have the same classes: a leak or legit record is held out when its class is).
* junk/split.json: junk.jsonl and legit_short.jsonl have no classes; each record goes to
  "heldout" when the first byte of sha256(kind + "\0" + text) is odd (about half, stable
  when records are added or removed), to "dev" otherwise.

Deterministic and pure Python: the sorted class names of grouping/labels.jsonl are
shuffled with random.Random(2026); the first half (rounded down) is the development
half, the rest is held out.  Labels never cross halves, so a held-out figure is
measured on classes whose labels nobody tuned on.
    python3 evaluation/make_split.py
"""

import hashlib
import json
import random
from pathlib import Path

SEED = 2026
ROOT = Path(__file__).resolve().parent


def junk_heldout(record: dict) -> bool:
    key = (record.get("kind", "") + "\0" + record["text"]).encode("utf-8")
    return hashlib.sha256(key).digest()[0] % 2 == 1


def main():
    labels = ROOT / "grouping" / "labels.jsonl"
    classes = sorted(
        {
            json.loads(line)["class"]
            for line in labels.read_text(encoding="utf-8").splitlines()
            if line
        }
    )
    order = list(classes)
    random.Random(SEED).shuffle(order)
    half = len(order) // 2
    split = {
        "seed": SEED,
        "rule": "sorted classes shuffled with random.Random(2026); first half dev, rest heldout",
        "dev": sorted(order[:half]),
        "heldout": sorted(order[half:]),
    }
    out = ROOT / "grouping" / "split.json"
    out.write_text(json.dumps(split, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    junk = {"rule": "heldout when sha256(kind + NUL + text)[0] is odd", "heldout": {}}
    for name in ("junk", "legit_short"):
        records = [
            json.loads(line)
            for line in (ROOT / "junk" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
            if line
        ]
        held = [r["text"] for r in records if junk_heldout(r)]
        junk["heldout"][name] = held
        print(f"junk/{name}: {len(held)} of {len(records)} held out")
    (ROOT / "junk" / "split.json").write_text(
        json.dumps(junk, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"dev ({len(split['dev'])}): {', '.join(split['dev'])}")
    print(f"heldout ({len(split['heldout'])}): {', '.join(split['heldout'])}")


if __name__ == "__main__":
    main()
