"""Win rates per reveal step of a simulated player, for each way of feathering the reveal mask.

    .venv/bin/python -m benchmarks.reveal [--mode fast|paper] [--json FILE] [--limit N]

The demo's pictures (campaigns/demo_photos.py, each with its true class) are explained with
the built-in efficientnet_lite0 for their true class (the demo campaigns' target mode), with the
demo campaigns' default layers. Every cluster map is one item. For each item, step and
feathering, the frame (the game image taken from the original, times the soft mask) is shown to a
*simulated player*: the same classifier, given the frame resized to its input; it "guesses" its
top-1 class among the campaign's choices. Reported per feathering and step:

* win rate: the share of items whose frame at that step is guessed right (if the player guessed
  there);
* policy points: a player who guesses at the first step where its top choice has probability
  >= 0.5 among the choices (else at step 6), scored as the game scores it;
* mean brightness of the revealed pixels (soft mask over the exactly-counted revealed pixels:
  1 = fully visible) and the shown fraction (mean of the soft mask: revealed + fringe).

Feathering variants: ``centred`` (METHOD §5 as written: the binary mask blurred), ``outward``
(the engine's NetViz default: the same Gaussian on the mask dilated by half its radius),
``outward-sharp`` (a Gaussian of σ/2 on the mask dilated by that Gaussian's radius: every
revealed pixel at 1, a narrower edge outside), ``outward-max`` (max(binary, blurred binary):
revealed pixels at 1, the centred fringe outside, a hard edge), ``outward-wide`` (the full σ on
the mask dilated by its whole radius: revealed pixels at 1, the edge twice as far out) and
``gain2`` (the centred feather at twice the gain, clipped to 1).

The simulated player is the network that made the maps, so it wins more easily than people do:
the figures compare the variants with each other, they do not predict human win rates.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from campaigns.demo_photos import CAMPAIGNS, campaign_photos  # noqa: E402
from workers.inv.artifacts import game_image_for  # noqa: E402
from workers.inv.explain import explain_batch  # noqa: E402
from workers.inv.models import ModelSource, load_model, resolve_layers  # noqa: E402
from workers.inv.reveal import (  # noqa: E402
    TRUNCATE,
    binary_reveal_masks,
    dilate,
    feather_masks,
    feather_sigma,
    gaussian_blur,
)
from workers.inv.types import EngineParams  # noqa: E402

VARIANTS = ("centred", "outward", "outward-sharp", "outward-max", "outward-wide", "gain2")
POINTS = (100, 83, 67, 50, 33, 17)  # game.rules.win_points(p) for p = 0..5
CONFIDENT = 0.5


def soft_masks(binary: np.ndarray, sigma: float, variant: str) -> np.ndarray:
    if variant in ("centred", "outward"):
        return feather_masks(binary, sigma, mode=variant).numpy()
    if variant in ("outward-wide", "outward-sharp"):
        if variant == "outward-sharp":  # half the σ on the mask dilated by its whole radius
            sigma = sigma / 2.0
        source = dilate(binary, int(TRUNCATE * sigma + 0.5))
        return np.clip(gaussian_blur(torch.from_numpy(source.view(np.uint8)), sigma).numpy(), 0, 1)
    if variant == "gain2":  # the centred feather at twice the gain
        blurred = gaussian_blur(torch.from_numpy(binary.view(np.uint8)), sigma).numpy()
        return np.clip(2.0 * blurred, 0.0, 1.0)
    blurred = gaussian_blur(torch.from_numpy(binary.view(np.uint8)), sigma).numpy()
    return np.maximum(binary.astype(np.float32), np.clip(blurred, 0.0, 1.0))


def player_probs(model, frames: np.ndarray, choice_idx: list[int]) -> np.ndarray:
    """(n, len(choices)) probabilities among the choices for frames (n, S, S', 3) uint8."""
    crop = model.preprocessing.crop
    batch = []
    for frame in frames:
        small = Image.fromarray(frame).resize((crop, crop), Image.Resampling.BILINEAR)
        batch.append(model.preprocessing.to_tensor(np.asarray(small)))
    with torch.no_grad():
        logits = model.module(torch.stack(batch))[:, choice_idx]
    return torch.softmax(logits, dim=1).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="fast", choices=["fast", "paper"])
    parser.add_argument("--limit", type=int, default=None, help="Only the first N pictures.")
    parser.add_argument("--json", default=None, help="Write the figures here too.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1).")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=list(VARIANTS),
        choices=VARIANTS,
        help="Feathering variants to compare (default: all).",
    )
    args = parser.parse_args()
    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = load_model(ModelSource(kind="builtin", name="efficientnet_lite0"))
    layers = resolve_layers(model, None)
    params = EngineParams(mode=args.mode)
    names = list(model.class_names)
    steps = len(params.reveal_percents)
    variants = list(dict.fromkeys(args.variants))
    totals = {
        "wins": {v: np.zeros(steps) for v in variants},
        "brightness": {v: np.zeros(steps) for v in variants},
        "shown": {v: np.zeros(steps) for v in variants},
        "policy_points": dict.fromkeys(variants, 0.0),
    }
    items = 0
    pictures = []
    for campaign in CAMPAIGNS:
        choice_idx = [names.index(c) for c in campaign.classes]
        for photo, array in campaign_photos(campaign):
            pictures.append(photo.name)
            if args.limit is not None and len(pictures) > args.limit:
                break
            original = Image.fromarray(array)
            view = model.preprocessing.model_view(original)
            target = names.index(photo.true_class)
            (expl,) = explain_batch(model, [view], layers=layers, params=params, targets=[target])
            game = game_image_for(
                original, view, preprocessing=model.preprocessing, params=params
            ).astype(np.float32)
            answer = campaign.classes.index(photo.true_class)
            for layer in expl.layers:
                for cluster in layer.clusters:
                    items += 1
                    score_item(
                        model, game, cluster.map, params, variants, choice_idx, answer, totals
                    )
            print(f"{photo.name}: {photo.true_class}, {items} items so far", flush=True)
    result = {
        "mode": args.mode,
        "pictures": pictures[: args.limit] if args.limit else pictures,
        "items": items,
        "reveal_percents": list(params.reveal_percents),
        "seconds": round(time.perf_counter() - t0, 1),
        "variants": {
            v: {
                "win_rate": [round(x / items, 3) for x in totals["wins"][v]],
                "revealed_brightness": [round(x / items, 3) for x in totals["brightness"][v]],
                "shown_fraction": [round(x / items, 4) for x in totals["shown"][v]],
                "policy_points": round(totals["policy_points"][v] / items, 1),
            }
            for v in variants
        },
    }
    print_report(result, steps)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))


def score_item(
    model, game: np.ndarray, cluster_map, params, variants, choice_idx, answer: int, totals
) -> None:
    """One cluster map: its frames per variant shown to the simulated player; adds its wins,
    revealed brightness, shown fraction and policy points to ``totals``."""
    steps = len(params.reveal_percents)
    shape = game.shape[:2]
    binary = binary_reveal_masks(cluster_map, shape, percents=params.reveal_percents)
    factor = max(shape[0] / cluster_map.shape[0], shape[1] / cluster_map.shape[1])
    sigma = feather_sigma(factor)
    softs = {v: soft_masks(binary, sigma, v) for v in variants}
    frames = np.concatenate(
        [np.clip(game[None] * softs[v][..., None] + 0.5, 0, 255).astype(np.uint8) for v in variants]
    )
    all_probs = player_probs(model, frames, choice_idx)
    for k, variant in enumerate(variants):
        soft = softs[variant]
        probs = all_probs[k * steps : (k + 1) * steps]
        right = probs.argmax(axis=1) == answer
        totals["wins"][variant] += right
        for p in range(steps):
            totals["brightness"][variant][p] += float(soft[p][binary[p]].mean())
            totals["shown"][variant][p] += float(soft[p].mean())
        sure = np.flatnonzero(probs.max(axis=1) >= CONFIDENT)
        at = int(sure[0]) if sure.size else steps - 1
        totals["policy_points"][variant] += POINTS[at] if right[at] else 0


def print_report(result: dict, steps: int) -> None:
    print()
    print(f"{result['items']} items ({len(result['pictures'])} pictures, {result['mode']} mode)")
    header = "step".ljust(14) + "".join(f"{p + 1:>8}" for p in range(steps))
    for v, r in result["variants"].items():
        print(f"\n{v} (policy points per round: {r['policy_points']})")
        print(header)
        print("win rate".ljust(14) + "".join(f"{x:>8.3f}" for x in r["win_rate"]))
        print("brightness".ljust(14) + "".join(f"{x:>8.3f}" for x in r["revealed_brightness"]))
        print("shown %".ljust(14) + "".join(f"{100 * x:>8.1f}" for x in r["shown_fraction"]))


if __name__ == "__main__":
    main()
