"""``LeakChecker.find_across`` against the full ``find`` on the join (processing/nlp/leaks.py).

``find_split_leak`` reads only the words across the cut between two texts that each passed
alone; this proves it finds the very leak (or none) that ``find(f"{a} {b}")`` finds, on pairs
built from the repository's label data: the evaluation sets, the load benchmark's words, and
the class names and aliases of ``evaluation/classes.json`` cut in two, spaced, repeated,
misspelt, written backwards and upside down. Fixed seed; no exception is needed (the one quirk,
a text read upside down only because the other holds a turned letter, is reproduced).
"""

from __future__ import annotations

import ast
import json
import random
from pathlib import Path

import pytest

from processing.nlp.leaks import Leak, LeakChecker, find_split_leak

ROOT = Path(__file__).resolve().parents[2]
EVALUATION = ROOT / "evaluation"
# Letters as "flip text" writes them upside down (the reading processing/nlp/leaks.py undoes).
_FLIP = str.maketrans(
    "abcdefghijklmnopqrstuvwxyz",
    "ɐqɔpǝɟƃɥᴉɾʞlɯuodbɹsʇnʌʍxʎz",
)


def _classes() -> list[dict]:
    return json.loads((EVALUATION / "classes.json").read_text())["classes"]


def _words() -> list[str]:
    """WORDS of benchmarks/game_load_setup.py (read, not imported: no code imports benchmarks)."""
    tree = ast.parse((ROOT / "benchmarks" / "game_load_setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "WORDS":
            return ast.literal_eval(node.value)
    raise AssertionError("WORDS not found")


def _texts() -> list[str]:
    texts = list(_words())
    for path in sorted(EVALUATION.glob("leaks/*.jsonl")) + sorted(
        EVALUATION.glob("refusals*/*.jsonl")
    ):
        for line in path.read_text().splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts


def _terms(cls: dict) -> list[str]:
    return [n.strip() for n in cls["class_names"].split(",")] + list(cls["aliases"])


def _cuts(term: str, rng: random.Random) -> list[tuple[str, str]]:
    """``term`` cut in two in every way a player might: plainly, spaced, with a letter
    repeated or changed at the cut, backwards and upside down, with a word around it."""
    squashed = term.replace(" ", "")
    out: list[tuple[str, str]] = []
    for k in range(1, len(squashed)):
        a, b = squashed[:k], squashed[k:]
        out.append((a, b))
        out.append((" ".join(a), " ".join(b)))  # spaced letters
        out.append((a + a[-1], b))  # a letter repeated across the cut
        out.append((a, chr(rng.randrange(97, 123)) + b[1:]))  # a letter changed after it
        out.append((a[:-1] + b[0] + a[-1], b[1:] or "x"))  # two letters swapped over it
        out.append((b[::-1], a[::-1]))  # backwards
        out.append((a.translate(_FLIP)[::-1], b.translate(_FLIP)[::-1]))  # upside down, parts
        out.append((b.translate(_FLIP)[::-1], a.translate(_FLIP)[::-1]))  # upside down, whole
        out.append((f"red {a}", f"{b} wings"))
        out.append((f"{a}-", f"-{b}s"))
    return out


def _checkers(rng: random.Random) -> list[LeakChecker]:
    """A round's checker as the game builds it: the answer and the guess with their aliases."""
    classes = _classes()
    out = []
    for cls in classes:
        guess = rng.choice(classes)
        names = [cls["class_names"], guess["class_names"]]
        out.append(LeakChecker(names, aliases=cls["aliases"] + guess["aliases"]))
    return out


def _pairs(rng: random.Random) -> list[tuple[int, str, str]]:
    """``(checker index, a, b)``: random pairs of label texts, and each class's terms cut."""
    texts = _texts()
    classes = _classes()
    pairs = [
        (rng.randrange(len(classes)), rng.choice(texts), rng.choice(texts)) for _ in range(3000)
    ]
    for k, cls in enumerate(classes):
        for term in _terms(cls):
            pairs.extend((k, a, b) for a, b in _cuts(term, rng))
        for _ in range(40):  # a leak text cut at a random place
            text = rng.choice(texts)
            if len(text) > 2:
                cut = rng.randrange(1, len(text) - 1)
                pairs.append((k, text[:cut], text[cut:]))
    return pairs


@pytest.fixture(scope="module")
def compared() -> list[tuple[str, str, Leak | None, Leak | None]]:
    rng = random.Random(20240611)
    checkers = _checkers(rng)
    alone: dict[tuple[int, str], bool] = {}

    def passes(k: int, text: str) -> bool:
        if (k, text) not in alone:
            alone[k, text] = bool(text.strip()) and checkers[k].find(text) is None
        return alone[k, text]

    out = []
    for k, a, b in _pairs(rng):
        if passes(k, a) and passes(k, b):
            out.append((a, b, checkers[k].find(f"{a} {b}"), checkers[k].find_across(a, b)))
    return out


def test_find_across_finds_the_leak_of_the_join(compared):
    differ = [(a, b, old, new) for a, b, old, new in compared if old != new]
    assert not differ, differ[:10]


def test_the_comparison_is_not_vacuous(compared):
    leaks = [old for _, _, old, _ in compared if old is not None]
    assert len(compared) > 4000
    assert len(leaks) > 500
    assert {leak.rule for leak in leaks} >= {"exact", "repeated", "edit", "backwards"}


TABBY = "tabby, tabby cat"


@pytest.mark.parametrize(
    ("a", "b", "names", "aliases", "rule"),
    [
        ("gold", "finch", ("goldfinch",), (), "exact"),  # goldfinch
        ("red gold", "finch wings", ("goldfinch",), (), "exact"),
        ("c a", "t", (TABBY,), (), "exact"),  # the head word spaced across the cut
        ("striped ta", "bby fur", (TABBY,), (), "exact"),
        ("e s p", "r e s s o", ("espresso",), (), "exact"),
        ("hcnif", "dlog", ("goldfinch",), (), "backwards"),  # backwards, a 5+ letter term
        ("osse", "rpse", ("espresso",), (), "backwards"),
        ("ossǝ", "ɹdsǝ", ("espresso",), (), "exact"),  # upside down, both texts turned
        ("ǝsdɹ", "ǝsso", ("espresso",), (), "edit"),  # upside down, read in order: misspelt
        ("daai", "isy", ("daisy",), (), "repeated"),  # repeated letters across the cut
        ("esprr", "resso", ("espresso",), (), "repeated"),
        ("gold", "finsh", ("goldfinch",), (), "edit"),  # an edit across the cut
        ("expr", "esso", ("espresso",), (), "edit"),
        ("red gold", "fnch wings", ("goldfinch", TABBY), ("cat",), "edit"),
        ("church", "yard", ("tripod",), (), None),
        ("dark brew", "warm cup", ("espresso",), ("coffee",), None),
    ],
)
def test_hand_written_pairs_agree_with_the_join(a, b, names, aliases, rule):
    checker = LeakChecker(names, aliases)
    assert checker.find(a) is None and checker.find(b) is None
    old = checker.find(f"{a} {b}")
    assert checker.find_across(a, b) == old
    assert (old.rule if old is not None else None) == rule


def test_texts_that_leak_alone_are_no_pair():
    """``tab`` (an edit of tabby) and ``by cat`` leak alone: the game refuses them one by
    one, and find_split_leak reads no pair of them."""
    assert find_split_leak(["tab", "by cat"], class_names=[TABBY]) is None
    assert find_split_leak(["tab", "by", "ta"], class_names=[TABBY])[:2] == (2, 1)


def test_a_text_read_upside_down_only_beside_a_turned_one():
    """The quirk find_across keeps: ``snq`` (``bus`` upside down, no turned letter) passes
    alone, but beside a text holding a turned letter the whole join is read upside down."""
    checker = LeakChecker(["school bus"], ["bus"])
    assert checker.find("snq") is None and checker.find("ʇɐl") is None
    old = checker.find("snq ʇɐl")
    assert old is not None and checker.find_across("snq", "ʇɐl") == old
    assert find_split_leak(["snq", "ʇɐl"], class_names=["school bus"], aliases=["bus"])[:2] == (
        0,
        1,
    )


def test_unicode_at_the_cut_keeps_the_tokens_apart():
    """Combining marks, final sigma and compatibility forms at the edges of a text: the join's
    tokens are still the two texts' tokens, so the readings agree."""
    checker = LeakChecker(["espresso", "tabby, tabby cat"], ["coffee", "cat"])
    for a, b in [
        ("espr\u0301", "\u0301esso"),
        ("espr\u00b4", "esso"),
        ("ΕΣ", "Σpresso"),
        ("es\ufb00", "\u200bpresso"),
        ("ca\u0338", "\u0338t"),
    ]:
        if checker.find(a) is None and checker.find(b) is None:
            assert checker.find_across(a, b) == checker.find(f"{a} {b}"), (a, b)
