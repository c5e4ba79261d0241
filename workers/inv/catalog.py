"""What the model registry offers, readable without torch: a web process decides the kind of a
model it registers from here, and a worker builds it (:mod:`workers.inv.models`)."""

from __future__ import annotations

# Models NetViz ships (weights from a pip package, no download): kind "builtin".
BUILTIN_MODELS: tuple[str, ...] = ("efficientnet_lite0",)
