"""Explain images from the command line, with no database or broker.

python manage.py explain_image PATH... [--model NAME] [--layers L ...] [--target CLASS]
    [--mode paper|fast] [--weights guided|gradcam] [--seed N] [--batch N] --out DIR
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workers.inv.artifacts import game_image_for, render_explanation
from workers.inv.errors import EngineError
from workers.inv.explain import explain_batch
from workers.inv.images import load_image
from workers.inv.models import ModelSource, builtin_model_names, load_model, resolve_layers
from workers.inv.types import EngineParams


def model_source_from_cli(
    name: str, weights: str | None, classes: str | None, arch: str
) -> ModelSource:
    if name in builtin_model_names():
        return ModelSource(kind="builtin", name=name)
    path = Path(name)
    if path.suffix in {".pt", ".pth", ".ts", ".jit"} and path.exists():
        kind = "state_dict" if arch else "torchscript"
        return ModelSource(
            kind=kind,
            name=path.stem,
            architecture=arch,
            weights_path=str(path),
            class_names_path=classes,
        )
    if arch:
        return ModelSource(
            kind="state_dict",
            name=name,
            architecture=arch,
            weights_path=weights,
            class_names_path=classes,
        )
    return ModelSource(
        kind="torchvision", name=name, weights_path=weights, class_names_path=classes
    )


class Command(BaseCommand):
    help = "Explain one or more images with INV and write JSON, arrays, overlays and reveal frames."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", help="Image files.")
        parser.add_argument(
            "--model",
            default=settings.NETVIZ_DEFAULT_MODEL,
            help="Built-in or torchvision model name, or a TorchScript/state-dict file.",
        )
        parser.add_argument(
            "--weights-file", default=None, help="Local weights for a torchvision model."
        )
        parser.add_argument("--classes-file", default=None, help="Class names, one per line.")
        parser.add_argument(
            "--architecture", default="", help="For a state dict: torchvision:NAME or timm:NAME."
        )
        parser.add_argument(
            "--layers", nargs="+", default=None, help="Module names (default: METHOD §1)."
        )
        parser.add_argument(
            "--target", default=None, help="Class name or index (default: predicted top-1)."
        )
        parser.add_argument("--mode", default="paper", choices=["paper", "fast"])
        parser.add_argument("--weights", default="guided", choices=["guided", "gradcam"])
        parser.add_argument("--reveal", default="exact", choices=["exact", "legacy"])
        parser.add_argument(
            "--feather",
            default="outward",
            choices=["outward", "centred"],
            help="Reveal feathering: outward (NetViz) or centred (METHOD §5 as written).",
        )
        parser.add_argument("--seed", type=int, default=432)
        parser.add_argument(
            "--batch", type=int, default=8, help="Images per forward/backward pass."
        )
        parser.add_argument("--device", default=settings.NETVIZ_DEVICE)
        parser.add_argument("--no-frames", action="store_true", help="Skip reveal frames.")
        parser.add_argument("--out", required=True, help="Output folder.")

    def handle(self, *args, **opts) -> None:
        out = Path(opts["out"])
        try:
            params = EngineParams(
                weights=opts["weights"],
                mode=opts["mode"],
                seed=opts["seed"],
                reveal_method=opts["reveal"],
                reveal_feather=opts["feather"],
            )
            source = model_source_from_cli(
                opts["model"], opts["weights_file"], opts["classes_file"], opts["architecture"]
            )
            model = load_model(source, device=opts["device"])
            layers = resolve_layers(model, opts["layers"])
            target = self._target(model.class_names, opts["target"])
            images = [
                (
                    Path(p),
                    load_image(
                        Path(p),
                        max_pixels=settings.NETVIZ_MAX_IMAGE_PIXELS,
                        min_side=settings.NETVIZ_MIN_IMAGE_SIDE,
                    ),
                )
                for p in opts["paths"]
            ]
        except EngineError as exc:
            raise CommandError(exc.message) from exc
        except (ValueError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        multiple = len(images) > 1
        batch = max(1, opts["batch"])
        for start in range(0, len(images), batch):
            chunk = images[start : start + batch]
            views = [model.preprocessing.model_view(img) for _, img in chunk]
            try:
                results = explain_batch(
                    model, views, layers=layers, params=params, targets=[target] * len(views)
                )
            except EngineError as exc:
                raise CommandError(exc.message) from exc
            for (path, img), view, result in zip(chunk, views, results, strict=True):
                folder = out / path.stem if multiple else out
                game = game_image_for(img, view, preprocessing=model.preprocessing, params=params)
                self._write(
                    folder, path, model, layers, params, view, game, result, not opts["no_frames"]
                )

    @staticmethod
    def _target(class_names, target: str | None) -> int | None:
        if target is None:
            return None
        if target.isdigit():
            index = int(target)
            if not 0 <= index < len(class_names):
                raise ValueError(f"Target index {index} is outside 0..{len(class_names) - 1}.")
            return index
        if target not in class_names:
            raise ValueError(f"Unknown target class '{target}'.")
        return class_names.index(target)

    def _write(
        self,
        folder: Path,
        path: Path,
        model,
        layers,
        params,
        view,
        game,
        result,
        with_frames: bool,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        artifacts = render_explanation(
            view, result, params=params, game=game, with_frames=with_frames
        )
        names = model.class_names
        doc = _summary(model.name, names, path, params, result)
        arrays: dict[str, np.ndarray] = {"input": model.preprocessing.to_tensor(view).numpy()}
        self.stdout.write(
            f"\n{path.name}: predicted {names[result.predicted_index]} "
            f"({result.probability:.3f}), explaining {names[result.target_index]}"
        )
        self.stdout.write(
            f"{'layer':<22}{'K':>6}{'kept':>6}{'HxW':>9}{'clusters':>10}{'retained %':>12}  weights %"
        )
        (folder / "overlays").mkdir(exist_ok=True)
        if with_frames:
            (folder / "frames").mkdir(exist_ok=True)
        for layer, art in zip(result.layers, artifacts.layers, strict=True):
            doc["layers"].append(_write_layer(folder, layer, art, arrays))
            weights = " ".join(f"{c.weight:.1f}" for c in layer.clusters) or "-"
            self.stdout.write(
                f"{layer.layer:<22}{layer.n_channels:>6}{len(layer.kept_channels):>6}"
                f"{f'{layer.height}x{layer.width}':>9}{len(layer.clusters):>10}"
                f"{layer.retained_weight:>12.1f}  {weights}"
            )
        (folder / "explanation.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        np.savez_compressed(folder / "arrays.npz", **arrays)
        (folder / "view.png").write_bytes(artifacts.view_png)
        self.stdout.write(f"written to {folder}")


def _summary(model_name: str, names, path: Path, params: EngineParams, result) -> dict:
    """explanation.json without its layers: the model, the image, the target and the prediction."""
    return {
        "model": model_name,
        "image": path.name,
        "target": {
            "index": result.target_index,
            "class": names[result.target_index],
            "probability": round(result.target_probability, 6),
        },
        "predicted": {
            "index": result.predicted_index,
            "class": names[result.predicted_index],
            "probability": round(result.probability, 6),
        },
        "params": params.to_dict(),
        "layers": [],
    }


def _write_layer(folder: Path, layer, art, arrays: dict[str, np.ndarray]) -> dict:
    """Write one layer's overlays and reveal frames, add its maps to ``arrays``; its entry in
    explanation.json."""
    safe = layer.layer.replace(".", "_")
    arrays[f"{layer.layer}/gradcam"] = layer.gradcam
    (folder / "overlays" / f"{safe}_gradcam.jpg").write_bytes(art.gradcam_overlay_jpeg)
    clusters = []
    for cluster, cart in zip(layer.clusters, art.clusters, strict=True):
        arrays[f"{layer.layer}/cluster_{cluster.index}"] = cluster.map
        (folder / "overlays" / f"{safe}_c{cluster.index}.jpg").write_bytes(cart.overlay_jpeg)
        for step, frame in enumerate(cart.frames_jpeg):
            (folder / "frames" / f"{safe}_c{cluster.index}_step{step}.jpg").write_bytes(frame)
        clusters.append(
            {
                "index": cluster.index,
                "channels": [int(c) for c in cluster.channels],
                "weight": round(float(cluster.weight), 6),
                "n_maps": len(cluster.channels),
            }
        )
    return {
        "layer": layer.layer,
        "K": layer.n_channels,
        "height": layer.height,
        "width": layer.width,
        "kept_maps": len(layer.kept_channels),
        "kept_channels": [int(c) for c in layer.kept_channels],
        "no_positive_evidence": layer.no_positive_evidence,
        "retained_weight": round(float(layer.retained_weight), 6),
        "clusters": clusters,
    }
