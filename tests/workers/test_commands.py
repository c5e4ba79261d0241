"""Management commands that need no services: explain_image on a TorchScript file."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from tests.conftest import TINY_CLASSES, photo_png


@pytest.fixture
def photo_paths(tmp_path):
    paths = []
    for name in ("chelsea", "coffee"):
        path = tmp_path / f"{name}.png"
        path.write_bytes(photo_png(name))
        paths.append(path)
    return paths


def run_cli(*args) -> str:
    out = io.StringIO()
    call_command("explain_image", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_explain_image_writes_json_arrays_overlays_and_frames(
    tmp_path, tiny_model_files, photo_paths
):
    weights, classes = tiny_model_files
    out = tmp_path / "out"
    printed = run_cli(
        photo_paths[0],
        "--model",
        weights,
        "--classes-file",
        classes,
        "--mode",
        "fast",
        "--out",
        out,
    )
    doc = json.loads((out / "explanation.json").read_text())
    assert doc["model"] == "tiny"
    assert doc["target"]["class"] in TINY_CLASSES
    assert doc["layers"], "at least one explained layer"
    arrays = np.load(out / "arrays.npz")
    assert arrays["input"].shape[0] == 3
    for layer in doc["layers"]:
        assert layer["layer"] in printed
        assert 0 < layer["retained_weight"] <= 100
        assert arrays[f"{layer['layer']}/gradcam"].shape == (layer["height"], layer["width"])
        for cluster in layer["clusters"]:
            assert 0 < cluster["weight"] <= 100 and cluster["n_maps"] == len(cluster["channels"])
            assert arrays[f"{layer['layer']}/cluster_{cluster['index']}"].shape == (
                layer["height"],
                layer["width"],
            )
            safe = layer["layer"].replace(".", "_")
            assert (out / "overlays" / f"{safe}_c{cluster['index']}.jpg").exists()
            for step in range(6):
                assert (out / "frames" / f"{safe}_c{cluster['index']}_step{step}.jpg").exists()


def test_explain_image_is_reproducible_byte_for_byte(tmp_path, tiny_model_files, photo_paths):
    weights, classes = tiny_model_files
    for run in ("a", "b"):
        run_cli(
            *photo_paths,
            "--model",
            weights,
            "--classes-file",
            classes,
            "--mode",
            "paper",
            "--no-frames",
            "--out",
            tmp_path / run,
        )
    for photo in photo_paths:
        first = (tmp_path / "a" / photo.stem / "explanation.json").read_bytes()
        second = (tmp_path / "b" / photo.stem / "explanation.json").read_bytes()
        assert first == second


def test_explain_image_target_override(tmp_path, tiny_model_files, photo_paths):
    weights, classes = tiny_model_files
    out = tmp_path / "t"
    run_cli(
        photo_paths[0],
        "--model",
        weights,
        "--classes-file",
        classes,
        "--target",
        "blue thing",
        "--mode",
        "fast",
        "--no-frames",
        "--out",
        out,
    )
    assert json.loads((out / "explanation.json").read_text())["target"]["class"] == "blue thing"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "no_such_model"], "no_such_model"),
        (["--target", "unicorn"], "unicorn"),
        (["--layers", "not.a.layer"], "not.a.layer"),
    ],
)
def test_explain_image_bad_arguments_give_clear_errors(
    tmp_path, tiny_model_files, photo_paths, extra, message
):
    weights, classes = tiny_model_files
    args = [
        photo_paths[0],
        "--model",
        weights,
        "--classes-file",
        classes,
        "--out",
        tmp_path / "x",
        *extra,
    ]
    with pytest.raises(CommandError, match=message):
        run_cli(*args)


def test_explain_image_rejects_a_file_that_is_not_an_image(tmp_path, tiny_model_files):
    weights, classes = tiny_model_files
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    with pytest.raises(CommandError, match="image"):
        run_cli(bad, "--model", weights, "--classes-file", classes, "--out", tmp_path / "x")


def test_explain_image_refuses_an_image_below_the_minimum_side(tmp_path, tiny_model_files):
    from PIL import Image

    weights, classes = tiny_model_files
    tiny = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (255, 0, 0)).save(tiny)
    with pytest.raises(CommandError, match="at least 32 pixels"):
        run_cli(tiny, "--model", weights, "--classes-file", classes, "--out", tmp_path / "x")
