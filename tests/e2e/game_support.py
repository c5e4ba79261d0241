"""Test data and helpers for the Deep Reveal browser tests (issue 14): campaigns of real photos
(scikit-image samples) whose reveal frames grow around a point of interest, the crowd of other
players, axe-core (vendored, pinned) and small PNG screenshots for docs/game.md.
"""

from __future__ import annotations

import hashlib
import io
import os
from functools import cache
from pathlib import Path

import numpy as np

from tests.e2e.conftest import ARTIFACTS

AXE_VERSION = "4.14.1"
AXE = Path(__file__).resolve().parent / "vendor" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
# sha256 of the vendored file (npm pack axe-core@4.14.1, package/axe.min.js)
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img" / "game"
DOC_SHOTS = os.environ.get("NETVIZ_DOC_SHOTS") == "1"
DOC_SHOT_MAX_BYTES = 150_000

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

TOUR_DONE = "localStorage.setItem('netviz.deepReveal.tourDone', '1');"

# photo -> (true class, centre of the region the frames reveal, as fractions of the square crop)
PHOTOS = {
    "chelsea": ("tabby, tabby cat", (0.42, 0.40)),
    "coffee": ("espresso", (0.52, 0.42)),
    "rocket": ("space shuttle", (0.55, 0.30)),
    "astronaut": ("space suit", (0.45, 0.30)),
}
CLASSES = ["tabby, tabby cat", "espresso", "space shuttle", "space suit", "cup", "missile"]
MODEL_CLASSES = [*CLASSES, "Egyptian cat", "teapot"]
REVEAL = (2.0, 4.5, 8.0, 13.0, 20.0, 30.0)
SIDE = 320


@cache
def _photo_files(photo: str) -> tuple[bytes, bytes, tuple[bytes, ...]]:
    """(full picture JPEG, overlay JPEG, six reveal frames as JPEG) of a scikit-image photo."""
    from PIL import Image
    from skimage import data

    array = getattr(data, photo)()[..., :3]
    h, w = array.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(array[top : top + side, left : left + side]).resize((SIDE, SIDE))
    pixels = np.asarray(square).astype(np.float32)
    cx, cy = PHOTOS[photo][1]
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    dist = np.hypot(yy - cy * SIDE, xx - cx * SIDE)

    def jpeg(arr) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=82)
        return buf.getvalue()

    frames = []
    for pct in REVEAL:
        radius = np.quantile(dist, pct / 100)
        keep = np.clip((radius + 4 - dist) / 8, 0, 1)  # a soft edge, fully visible inside
        frames.append(jpeg(pixels * keep[..., None]))
    heat = np.clip(1 - dist / (0.35 * SIDE), 0, 1)[..., None]
    tint = np.stack([np.full_like(heat[..., 0], 255), 80 * heat[..., 0], 0 * heat[..., 0]], -1)
    overlay = jpeg(pixels * (1 - 0.55 * heat) + tint * 0.55 * heat)
    return jpeg(pixels), overlay, tuple(frames)


def photo_campaign(
    *,
    name: str,
    photos: tuple[str, ...] = ("chelsea", "coffee", "rocket"),
    wrong: dict[str, str] | None = None,
    target_rounds: int = 20,
    pending: int = 0,
    extra_classes: tuple[str, ...] = (),
):
    """A published campaign with one playable item (one layer, one cluster) per photo.

    ``wrong`` maps a photo to the class the network predicted instead of the true one;
    ``pending`` adds images whose explanation is still being computed (not playable yet);
    ``extra_classes`` lengthens the choice list (the demo campaigns offer 12).
    """
    from explanations.models import ExplanationJob
    from tests.factories import (
        CampaignFactory,
        CampaignImageFactory,
        ExplanationJobFactory,
        ModelSpecFactory,
        make_image_items,
        store,
    )

    wrong = wrong or {}
    model = ModelSpecFactory(name="ux-model", class_names=[*MODEL_CLASSES, *extra_classes])
    campaign = CampaignFactory(
        name=name,
        model=model,
        classes=[*CLASSES, *extra_classes],
        aliases={"tabby, tabby cat": ["kitty"]},
        explained_layers=["blocks.2.0", "blocks.4.0", "blocks.6.0"],
        target_rounds=target_rounds,
    )
    for photo in photos:
        true_class = PHOTOS[photo][0]
        full, overlay, frames = _photo_files(photo)
        (cm,) = make_image_items(
            campaign=campaign,
            layers=1,
            clusters=1,
            true_class=true_class,
            predicted_class=wrong.get(photo, true_class),
            file=store("images/ux", full, ".jpg"),
            view_file=store("views", full, ".jpg"),
            game_file=store("games", full, ".jpg"),
            width=SIDE,
            height=SIDE,
        )
        cm.frames = [store("frames", f, ".jpg") for f in frames]
        cm.overlay = store("overlays", overlay, ".jpg")
        cm.save()
        layer = cm.layer_result
        layer.layer = "blocks.4.0"
        layer.position = 1
        layer.save()
    for _ in range(pending):
        image = CampaignImageFactory(campaign=campaign, true_class="cup", target_class="cup")
        ExplanationJobFactory(image=image, status=ExplanationJob.Status.RUNNING, progress=0.3)
    return campaign


def crowd_on(campaign, *, texts_by_player=(("whiskers", "pointed ears"), ("whiskers",), ())):
    """Other players' finished rounds on each item of the campaign: the first ones win at steps
    2 and 3 (numbered 1-6: 3 and 4), the last one loses."""
    from explanations.models import ClusterMap
    from game.models import Round
    from tests.factories import PlayerFactory, make_finished_round

    players = [PlayerFactory() for _ in texts_by_player]
    for cm in ClusterMap.objects.filter(image__campaign=campaign):
        for i, (player, texts) in enumerate(zip(players, texts_by_player, strict=True)):
            last = i == len(players) - 1
            make_finished_round(
                cluster_map=cm,
                player=player,
                outcome=Round.Outcome.LOSS if last else Round.Outcome.WIN,
                step=2 + i,
                texts=list(texts),
            )
    return players


def round_of(nickname: str, **filters):
    from game.models import Round

    return Round.objects.filter(player__nickname=nickname, **filters).latest("started_at")


def answer_label_of(nickname: str) -> str:
    from game.rules import class_label

    return class_label(round_of(nickname, status="active").answer)


def start_as_guest(page, nickname: str, path: str = "/game/play/") -> None:
    page.goto(path)
    page.get_by_label("Your nickname").fill(nickname)
    page.get_by_role("button", name="Play as a guest").click()
    page.locator("#frame[src*='/game/frame/']").wait_for()


def wait_until(page, predicate: str, arg=None, *, timeout_ms: int = 15_000) -> None:
    """Poll a JavaScript predicate from the test (``page.wait_for_function`` polls with eval
    inside the page, which the Content-Security-Policy blocks)."""
    for _ in range(timeout_ms // 50):
        if page.evaluate(predicate, arg):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"still false after {timeout_ms} ms: {predicate}")


def in_viewport(page, selector: str) -> bool:
    """Whether the element lies wholly inside the viewport at the current scroll position."""
    return page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight
          && r.right <= innerWidth; }""",
        selector,
    )


# --- axe-core --------------------------------------------------------------------------------


def axe_file() -> Path:
    digest = hashlib.sha256(AXE.read_bytes()).hexdigest()
    assert digest == AXE_SHA256, f"{AXE} is not the pinned axe-core {AXE_VERSION}"
    return AXE


def axe_serious(page, *, label: str) -> list[str]:
    """Serious or critical axe-core violations of the page as it is now (WCAG 2.x A/AA and
    axe's best practices). The page's context must bypass the CSP, which blocks injected code."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(axe_file()))
    violations = page.evaluate(
        """async () => {
          const r = await axe.run(document, { resultTypes: ['violations'] });
          return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ')) }));
        }"""
    )
    return [
        f"{label}: {v['id']} ({v['impact']}): {v['help']} at {v['nodes']}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


# --- screenshots -----------------------------------------------------------------------------


def shot(page, name: str, *, doc: bool = False, full_page: bool = False) -> None:
    """A screenshot in test-artifacts/; with NETVIZ_DOC_SHOTS=1 and ``doc``, also a small PNG
    (0.6 × on a desktop, 0.75 × on a phone, at most 128 colours) under docs/img/game/ for docs/game.md."""
    ARTIFACTS.mkdir(exist_ok=True)
    wait_until(page, "() => Array.from(document.images).every(i => i.complete)")
    data = page.screenshot(path=str(ARTIFACTS / f"ux-{name}.png"), full_page=full_page)
    if doc and DOC_SHOTS:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        (DOCS_IMG / f"{name}.png").write_bytes(small_png(data))


def small_png(data: bytes) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    scale = 0.6 if image.width > 600 else 0.75
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    for colours in (128, 64, 32):
        buf = io.BytesIO()
        image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(
            buf, "PNG", optimize=True
        )
        if buf.tell() <= DOC_SHOT_MAX_BYTES:
            break
    return buf.getvalue()
