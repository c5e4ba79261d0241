"""The bonus question as the product asks it, simulated on the evaluation set (issue 12).

``benchmarks.grouping``'s verification curve (:func:`benchmarks.grouping_sim.
simulate_verification`) asks the most valuable pairs of a whole class
(:func:`processing.nlp.verify.uncertain_pairs`), as a researcher's curation would. A player is
asked something narrower: after a round, one pair made of one of *their* labels of the round and
a label another player typed for the same cluster map, chosen by
``processing.services.verification`` (:func:`offer_pair` here is its choice, on plain arrays).
This module replays that policy on the simulated game of ``benchmarks.grouping_sim.
simulate_game``:

* finished rounds arrive in a random order, again and again (a later pass stands for a later
  player who typed the same labels for the same map: each offer is a new player, who answers
  once, right with probability 0.8);
* the question's kind (merge or split) and distance are the product's at the time it is first
  offered (the distance among the round's and the map's labels, as the web request computes
  it), its verdict the product's sequential rule (:func:`processing.nlp.verify.stored_verdict`);
* after every batch of answers (1 % of the labels) the touched classes are regrouped with the
  decided questions as must-links and cannot-links (:class:`processing.nlp.verify.Knowledge`).

It prints the answers per 100 labels at which precision and recall both reach 0.95 (or where it
stops: the answer budget, or a whole pass without a question to offer), beside the class-wide
curve measured in the same run.

    HF_HUB_OFFLINE=1 python -m benchmarks.verification_policy --half dev [--policy product]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.grouping_data import load_eval, n_labels, run_pipeline
from benchmarks.grouping_sim import (
    VERIFY_ACCURACY,
    _ClassState,
    _scores,
    class_state,
    regroup,
    simulate_game,
    simulate_verification,
    templated,
)
from processing.nlp.bonus import Asked
from processing.nlp.bonus import offer_pair as offer_pair_gain
from processing.nlp.grouping import GroupingSettings, head_word, label_distances
from processing.nlp.verify import (
    DEFAULT_MODEL,
    DEFAULT_RULE,
    AnswerRule,
    Knowledge,
    stored_verdict,
    uncertain_pairs,
)


@dataclass
class _Question:
    kind: str
    distance: float
    yes: int = 0
    no: int = 0
    prior: float | None = None  # stored when first asked (None: from kind and distance)


@dataclass
class _Game:
    """One class's simulated game: per round, its label indices and its map; per map, its
    label indices."""

    rounds: list[tuple[list[int], int]]
    by_map: dict[int, list[int]]
    questions: dict[tuple[str, str], _Question] = field(default_factory=dict)


def offer_pair(
    own: Sequence[str],
    others: Sequence[str],
    dist: np.ndarray,
    *,
    threshold: float,
    decided: Callable[[str, str], bool],
    closed: Callable[[str, str], bool],
) -> tuple[str, str, float] | None:
    """The product's choice (``processing.services.verification._least_sure_pair``): among the
    pairs (own, other) of distinct keys more than 0 apart that are not closed, undecided ones
    first, the one whose distance is closest to the threshold. ``dist``: distances over
    ``own + others`` in that order. Returns (own key, other key, distance) or None."""
    best = None
    n = len(own)
    for i, mine in enumerate(own):
        for j, theirs in enumerate(others):
            d = float(dist[i, n + j])
            if mine == theirs or d <= 0.0 or closed(mine, theirs):
                continue
            rank = (decided(mine, theirs), abs(d - threshold), tuple(sorted((mine, theirs))))
            if best is None or rank < best[0]:
                best = (rank, mine, theirs, d)
    return None if best is None else best[1:]


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _verdict(q: _Question, rule: AnswerRule):
    return stored_verdict(q.yes, q.no, kind=q.kind, distance=q.distance, prior=q.prior, rule=rule)


def _games(half, states: Mapping[str, _ClassState], seed: int) -> dict[str, _Game]:
    signals = simulate_game(half, seed=seed)
    games = {}
    for cls, s in states.items():
        sig = signals[cls]
        rounds: dict[str, list[int]] = defaultdict(list)
        by_map: dict[int, list[int]] = defaultdict(list)
        map_of: dict[str, int] = {}
        for line, key in enumerate(s.line_key):
            if key is None:
                continue
            rounds[sig.rounds[line]].append(line)
            map_of[sig.rounds[line]] = sig.maps[line]
            by_map[sig.maps[line]].append(line)
        games[cls] = _Game(
            rounds=[(lines, map_of[r]) for r, lines in sorted(rounds.items())], by_map=by_map
        )
    return games


def _offer(s: _ClassState, g: _Game, lines: list[int], map_id: int, embed, settings, rule, policy):
    """The product's question for one finished round (None: nothing to ask)."""
    own = sorted({s.keys[s.line_key[i]] for i in lines})
    others = sorted({s.keys[s.line_key[i]] for i in g.by_map[map_id] if i not in lines} - set(own))
    if not own or not others:
        return None
    keys = own + others
    emb = s.embeddings[[s.keys.index(k) for k in keys]]
    heads = embed([head_word(k) for k in keys]) if settings.head_weight > 0 else None
    dist = label_distances(keys, emb, heads, settings=settings)

    def decided(a, b):
        q = g.questions.get(_pair(a, b))
        return q is not None and _verdict(q, rule).same is not None

    def closed(a, b):
        q = g.questions.get(_pair(a, b))
        return q is not None and q.yes + q.no >= rule.max_answers

    if policy == "gain":
        group_of = {k: int(s.groups_of_key[s.keys.index(k)]) for k in keys}
        group_mentions: dict[int, float] = defaultdict(float)
        for gi, c in zip(s.groups_of_key, s.counts):
            group_mentions[int(gi)] += float(c)
        key_mentions = {k: float(s.counts[s.keys.index(k)]) for k in keys}
        offer = offer_pair_gain(
            own,
            others,
            dist,
            group_of=group_of,
            group_mentions=group_mentions,
            key_mentions=key_mentions,
            asked={
                p: Asked(q.kind, q.distance, q.yes, q.no, q.prior) for p, q in g.questions.items()
            },
            rule=rule,
        )
        return None if offer is None else (offer.mine, offer.theirs, offer.distance)
    return offer_pair(
        own, others, dist, threshold=settings.threshold, decided=decided, closed=closed
    )


def _prior(q: _Question) -> float:
    return q.prior if q.prior is not None else DEFAULT_MODEL.prior(q.kind, q.distance)


def _class_offer(s: _ClassState, g: _Game, settings, rule, *, p_same_prior: bool = False):
    """The class-wide question most worth asking (:func:`processing.nlp.verify.uncertain_pairs`
    on the whole class, the researchers' suggestion), for a player whose round has nothing
    worth asking (``gain+class``)."""
    verdicts = {p: v for p, q in g.questions.items() if (v := _verdict(q, rule)).same is not None}
    closed = [
        frozenset(p)
        for p, q in g.questions.items()
        if rule.closed(q.yes, q.no, _prior(q)) and _verdict(q, rule).same is None
    ]
    found = uncertain_pairs(
        s.keys,
        s.dist,
        s.groups_of_key,
        threshold=settings.threshold,
        counts=s.counts,
        known=Knowledge(verdicts),
        exclude=closed,
        rule=rule,
        limit=1,
    )
    if not found:
        return None
    q = found[0]
    d = float(s.dist[s.keys.index(q.a), s.keys.index(q.b)])
    return (q.a, q.b, d, q.p_same) if p_same_prior else (q.a, q.b, d)


def _answer_once(s: _ClassState, g: _Game, chosen, rng, accuracy: float) -> None:
    """One player's answer to the pair ``chosen`` (its question made on first asking: kind
    from today's groups, the distance given)."""
    mine, theirs, d = chosen[:3]
    ia, ib = s.keys.index(mine), s.keys.index(theirs)
    q = g.questions.get(_pair(mine, theirs))
    if q is None:
        same_group = s.groups_of_key[ia] == s.groups_of_key[ib]
        prior = round(chosen[3], 6) if len(chosen) > 3 else None  # the ranking's P(same)
        q = g.questions[_pair(mine, theirs)] = _Question(
            "split" if same_group else "merge", round(d, 6), prior=prior
        )
    truth = s.concept[ia] == s.concept[ib]
    answer = truth if rng.random() < accuracy else not truth
    q.yes, q.no = q.yes + answer, q.no + (not answer)


def simulate_policy(
    half,
    embedder,
    settings: GroupingSettings,
    classes,
    *,
    seed: int = 12,
    accuracy: float = VERIFY_ACCURACY,
    rule: AnswerRule = DEFAULT_RULE,
    batch_share: float = 0.01,
    max_answers_per_100: float = 600.0,
    target: float = 0.95,
    policy: str = "product",
) -> list[dict]:
    """The verification curve of the product's bonus question (see the module doc);
    ``policy``: ``product`` (:func:`offer_pair`), ``gain`` (:func:`offer_pair_gain`, today's)
    ``class`` (the class-wide question most worth asking, :func:`_class_offer`), ``classp``
    (``class`` with the ranking's P(same) as the question's stored prior) or several joined by
    ``+``, the first with something worth asking (``class+gain``, the product's)."""
    rng = random.Random(seed)
    _, reports = run_pipeline(half, embedder, settings, classes)
    states = {cls: class_state(half[cls], reports[cls], embedder, settings) for cls in sorted(half)}
    for s in states.values():
        regroup(s, embedder, settings)
    games = _games(half, states, seed)
    embed = templated(embedder, settings)
    total = n_labels(half)
    batch = max(1, round(batch_share * total))
    stream = [(cls, r) for cls, g in games.items() for r in range(len(g.rounds))]
    answers = offers = passes = 0
    touched: set[str] = set()
    curve = [_point(0, total, 0, _scores(states))]

    def checkpoint() -> bool:
        """Regroup the touched classes with the decided questions; True once at the target."""
        for c in touched:
            s2, g2 = states[c], games[c]
            s2.verdicts = {
                p: v for p, q2 in g2.questions.items() if (v := _verdict(q2, rule)).same is not None
            }
            regroup(s2, embedder, settings)
        touched.clear()
        sc = _scores(states)
        curve.append(_point(answers, total, offers, sc, passes))
        return sc.precision >= target and sc.recall >= target

    while True:
        passes += 1
        rng.shuffle(stream)
        asked_this_pass = 0
        for cls, r in stream:
            s, g = states[cls], games[cls]
            lines, map_id = g.rounds[r]
            chosen = None
            for part in policy.split("+"):  # the first that has something worth asking
                if chosen is None and part in ("class", "classp"):
                    chosen = _class_offer(s, g, settings, rule, p_same_prior=part == "classp")
                elif chosen is None:
                    chosen = _offer(s, g, lines, map_id, embed, settings, rule, part)
            if chosen is None:
                continue
            _answer_once(s, g, chosen, rng, accuracy)
            answers += 1
            offers += 1
            asked_this_pass += 1
            touched.add(cls)
            at_budget = answers * 100 / total >= max_answers_per_100
            if (answers % batch == 0 or at_budget) and (checkpoint() or at_budget):
                return curve
        if asked_this_pass == 0:  # nothing left worth asking
            if touched:
                checkpoint()
            return curve


def _point(answers: int, total: int, offers: int, sc, passes: int = 0) -> dict:
    return {
        "answers_per_100_labels": round(answers * 100 / total, 1),
        "answers": answers,
        "passes": passes,
        **sc.as_dict(),
    }


def reached(curve: Sequence[dict], target: float = 0.95) -> float | None:
    p = next((p for p in curve if p["precision"] >= target and p["recall"] >= target), None)
    return None if p is None else p["answers_per_100_labels"]


def _print_curve(name: str, curve: Sequence[dict]) -> None:
    r = reached(curve)
    last = curve[-1]
    print(
        f"{name}: P and R >= 0.95 at "
        + (f"{r} answers per 100 labels" if r is not None else "never (within the budget)")
        + f"; last point {last['answers_per_100_labels']} answers per 100 labels, "
        f"P {last['precision']:.3f} R {last['recall']:.3f}"
    )
    marks = [p for p in curve if p["answers_per_100_labels"] in (0,) or p is last]
    step = max(1, len(curve) // 8)
    marks = curve[::step] + ([last] if curve[::step][-1] is not last else [])
    print(
        "  "
        + "  ".join(
            f"{p['answers_per_100_labels']}: {p['precision']:.3f}/{p['recall']:.3f}" for p in marks
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--half", choices=["dev", "heldout"], default="dev")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--budget", type=float, default=600.0, help="answers per 100 labels")
    parser.add_argument(
        "--policy",
        default="product",
        help="comma list: product, gain, class, classp, gain+class, class+gain",
    )
    parser.add_argument("--skip-class-wide", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from benchmarks.grouping_data import CachedEmbedder
    from processing.nlp.embed import SentenceEmbedder

    halves, classes = load_eval()
    half = halves[args.half]
    embedder = CachedEmbedder(SentenceEmbedder(args.model))
    settings = GroupingSettings()
    result: dict = {"half": args.half, "model": args.model, "seed": args.seed}
    t0 = time.perf_counter()
    for policy in args.policy.split(","):
        curve = simulate_policy(
            half,
            embedder,
            settings,
            classes,
            seed=args.seed,
            max_answers_per_100=args.budget,
            policy=policy,
        )
        result[policy] = {"curve": curve, "reached": reached(curve)}
        _print_curve(f"bonus question, policy {policy} ({args.half}, {args.model})", curve)
        print(f"  ({time.perf_counter() - t0:.0f} s)")
    if not args.skip_class_wide:
        wide = simulate_verification(half, embedder, settings, classes, seed=args.seed)
        result["class_wide"] = {"curve": wide, "reached": reached(wide)}
        _print_curve("class-wide questions (benchmarks.grouping's curve)", wide)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
