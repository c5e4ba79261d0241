"""Synthetic player-style characteristics over the ten Imagenette classes: plurals, typos,
modifiers, class-name leaks, case and punctuation noise, 5% junk (the 10k-label data of
``benchmarks/processing.py``).
"""

from __future__ import annotations

import random

IMAGENETTE = {
    "tench, Tinca tinca": [
        "scales",
        "fins",
        "fisherman",
        "hands",
        "green",
        "water",
        "grass",
        "net",
        "eye",
        "mouth",
        "slimy",
        "gills",
        "fishing rod",
        "tail",
    ],
    "English springer, English springer spaniel": [
        "ears",
        "fur",
        "nose",
        "eyes",
        "tongue",
        "paws",
        "grass",
        "collar",
        "leash",
        "brown and white",
        "curly fur",
        "spots",
        "snout",
        "field",
    ],
    "cassette player": [
        "buttons",
        "tape",
        "speaker",
        "knob",
        "silver",
        "display",
        "screws",
        "antenna",
        "headphones",
        "plastic",
        "label",
        "wires",
    ],
    "chain saw, chainsaw": [
        "chain",
        "blade",
        "orange",
        "handle",
        "engine",
        "logs",
        "sawdust",
        "gloves",
        "helmet",
        "wood",
        "trees",
        "man",
        "smoke",
    ],
    "church, church building": [
        "cross",
        "steeple",
        "windows",
        "bell tower",
        "roof",
        "door",
        "arches",
        "sky",
        "bricks",
        "stained glass",
        "clock",
        "trees",
    ],
    "French horn, horn": [
        "brass",
        "valves",
        "tubes",
        "gold",
        "bell",
        "musician",
        "hands",
        "sheet music",
        "shiny",
        "reflection",
        "orchestra",
        "mouthpiece",
    ],
    "garbage truck, dustcart": [
        "wheels",
        "bin",
        "green",
        "bin man",
        "street",
        "cab",
        "mirror",
        "headlights",
        "trash",
        "tires",
        "windshield",
        "arm",
    ],
    "gas pump, gasoline pump, petrol pump, island dispenser": [
        "nozzle",
        "hose",
        "numbers",
        "screen",
        "price",
        "logo",
        "buttons",
        "station",
        "red",
        "sign",
        "car",
        "roof",
        "handle",
    ],
    "golf ball": [
        "dimples",
        "white",
        "grass",
        "tee",
        "round",
        "logo",
        "club",
        "hole",
        "flag",
        "sand",
        "green grass",
        "shadow",
    ],
    "parachute, chute": [
        "sky",
        "strings",
        "canopy",
        "clouds",
        "person",
        "colorful",
        "harness",
        "ropes",
        "blue sky",
        "red",
        "stripes",
        "mountains",
    ],
}
MODIFIERS = [
    "big",
    "small",
    "black",
    "white",
    "red",
    "shiny",
    "dark",
    "round",
    "metal",
    "blurry",
    "bright",
    "old",
    "long",
    "little",
    "green",
]
JUNK = [
    "asdf",
    "???",
    "idk",
    "lol",
    "no idea",
    "<b>hi</b>",
    "123",
    "x",
    "...",
    "nothing",
    "qwerty",
    "i dont know",
    "blah",
    "http://spam.example",
    "a",
    "!!!",
]


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(3)
    if op == 0:
        return word[:i] + word[i + 1 :]
    if op == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i] + word[i:]


def synthetic_text(true_class: str, rng: random.Random) -> str:
    """One player-style characteristic of an image of ``true_class``."""
    if rng.random() < 0.05:
        return rng.choice(JUNK)
    words = rng.choice(IMAGENETTE[true_class]).split()
    if rng.random() < 0.25:
        words[-1] = words[-1] + "s" if not words[-1].endswith("s") else words[-1][:-1]
    if rng.random() < 0.15:
        j = rng.randrange(len(words))
        words[j] = _typo(words[j], rng)
    if rng.random() < 0.3:
        words.insert(0, rng.choice(MODIFIERS))
    if rng.random() < 0.08:  # class-name leak
        name = rng.choice(true_class.split(",")).strip()
        words = [name + ("'s" if rng.random() < 0.5 else "")] + words
    text = " ".join(words)
    if rng.random() < 0.2:
        text = text.upper() if rng.random() < 0.3 else text.capitalize()
    if rng.random() < 0.1:
        text = rng.choice(["  ", "", "'"]) + text + rng.choice(["!", ".", "  ", "?!"])
    return text[:200]
