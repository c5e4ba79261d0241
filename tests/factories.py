"""factory_boy factories for explanations and game records (no engine needed).

Cluster maps get small real JPEG files (overlay and the six reveal frames) written under
MEDIA_ROOT with unguessable names, as the engine would store them.
"""

from __future__ import annotations

import io
import secrets

import factory
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from explanations.models import (
    Campaign,
    CampaignImage,
    ClusterMap,
    ExplanationJob,
    LayerResult,
    ModelSpec,
)
from game.models import Characteristic, Player, Round

CLASSES = ["tabby, tabby cat", "English springer", "garbage truck", "goldfinch"]


def jpeg_bytes(
    *, shade: int = 128, size: int = 48, color: tuple[int, int, int] | None = None
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color or (shade, shade // 2, 255 - shade)).save(buffer, "JPEG")
    return buffer.getvalue()


def png_bytes(*, size: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (30, 160, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def store(folder: str, content: bytes, suffix: str) -> str:
    return default_storage.save(
        f"{folder}/{secrets.token_urlsafe(18)}{suffix}", ContentFile(content)
    )


class ModelSpecFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelSpec
        django_get_or_create = ("name",)

    name = "factory-model"
    display_name = "Factory model"
    kind = ModelSpec.Kind.BUILTIN
    status = ModelSpec.Status.DONE  # validated (a registration's job is tested apart)
    class_names = factory.LazyFunction(lambda: list(CLASSES) + ["teapot"])
    explainable_layers = factory.LazyFunction(lambda: ["layer1", "layer2", "layer3"])
    default_layers = factory.LazyFunction(lambda: ["layer1", "layer2", "layer3"])


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    slug = factory.Sequence(lambda n: f"campaign-{n}")
    model = factory.SubFactory(ModelSpecFactory)
    classes = factory.LazyFunction(lambda: list(CLASSES))
    aliases = factory.LazyFunction(lambda: {"English springer": ["spaniel"]})
    explained_layers = factory.LazyFunction(lambda: ["layer1", "layer2", "layer3"])
    params_hash = factory.LazyFunction(lambda: secrets.token_hex(32))
    target_rounds = 5
    status = Campaign.Status.PUBLISHED


class CampaignImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignImage

    campaign = factory.SubFactory(CampaignFactory)
    file = factory.LazyFunction(lambda: store("images/ab", png_bytes(), ".png"))
    view_file = factory.LazyFunction(lambda: store("views", png_bytes(), ".png"))
    game_file = factory.LazyFunction(lambda: store("games", jpeg_bytes(), ".jpg"))
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    original_name = factory.Sequence(lambda n: f"photo{n}.png")
    width = 48
    height = 48
    true_class = "English springer"
    target_class = "English springer"
    predicted_class = "English springer"


class ExplanationJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExplanationJob

    image = factory.SubFactory(CampaignImageFactory)
    params_hash = factory.LazyAttribute(lambda o: o.image.campaign.params_hash)
    status = ExplanationJob.Status.DONE
    progress = 1.0
    finished_at = factory.LazyFunction(timezone.now)


class LayerResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LayerResult

    job = factory.SubFactory(ExplanationJobFactory)
    image = factory.LazyAttribute(lambda o: o.job.image)
    layer = factory.Sequence(lambda n: f"layer{n}")
    position = 0
    n_channels = 8
    height = 7
    width = 7
    kept_channels = factory.LazyFunction(lambda: list(range(8)))
    retained_weight = 90.0
    shares = b""
    gradcam = b""


class ClusterMapFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClusterMap

    layer_result = factory.SubFactory(LayerResultFactory)
    image = factory.LazyAttribute(lambda o: o.layer_result.image)
    index = 0
    channels = factory.LazyFunction(lambda: [0, 1, 2])
    weight = 37.5
    n_maps = 3
    map = b""
    overlay = factory.LazyFunction(
        lambda: store("overlays", jpeg_bytes(color=(200, 40, 40)), ".jpg")
    )
    frames = factory.LazyFunction(
        lambda: [store("frames", jpeg_bytes(shade=40 * step), ".jpg") for step in range(6)]
    )


def make_image_items(
    *,
    campaign: Campaign,
    layers: int = 2,
    clusters: int = 2,
    true_class: str = "English springer",
    **image_fields,
) -> list[ClusterMap]:
    """One image of the campaign with a DONE job and layers × clusters playable cluster maps."""
    image_fields.setdefault("target_class", true_class)
    image = CampaignImageFactory(campaign=campaign, true_class=true_class, **image_fields)
    job = ExplanationJobFactory(image=image)
    items = []
    for position in range(layers):
        layer = LayerResultFactory(
            job=job, image=image, layer=f"layer{position + 1}", position=position
        )
        for index in range(clusters):
            items.append(
                ClusterMapFactory(
                    layer_result=layer, image=image, index=index, weight=60.0 - 20 * index
                )
            )
    return items


class PlayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Player

    nickname = factory.Sequence(lambda n: f"player{n}")


class RoundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Round

    token = factory.LazyFunction(lambda: secrets.token_urlsafe(24))
    player = factory.SubFactory(PlayerFactory)
    cluster_map = factory.SubFactory(ClusterMapFactory)
    image = factory.LazyAttribute(lambda o: o.cluster_map.image)
    campaign = factory.LazyAttribute(lambda o: o.cluster_map.image.campaign)
    layer_position = factory.LazyAttribute(lambda o: o.cluster_map.layer_result.position)
    answer = factory.LazyAttribute(lambda o: o.cluster_map.image.true_class)
    status = Round.Status.ACTIVE
    started_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(minutes=15))
    finished_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.status == Round.Status.DONE else None
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """Save the round and count it in its item's tally, as the game's round statements do."""
        from game.services import item_tallies_rebuild

        round = super()._create(model_class, *args, **kwargs)
        item_tallies_rebuild(cluster_map_ids=[round.cluster_map_id])
        return round


class CharacteristicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Characteristic

    round = factory.SubFactory(RoundFactory)
    player = factory.LazyAttribute(lambda o: o.round.player)
    position = 0
    text = "floppy ears"


def make_finished_round(
    *,
    cluster_map: ClusterMap,
    player: Player | None = None,
    guess: str | None = None,
    outcome: str = Round.Outcome.WIN,
    step: int = 1,
    texts: list[str] | tuple[str, ...] = (),
) -> Round:
    """A finished (done) round on an item, with its characteristics (label processing tests).

    ``guess`` defaults to the answer for a win, and to another campaign class for a loss.
    """
    image = cluster_map.image
    answer = image.class_name
    if guess is None and outcome == Round.Outcome.WIN:
        guess = answer
    elif guess is None and outcome == Round.Outcome.LOSS:
        guess = next(c for c in image.campaign.classes if c != answer)
    player = player or PlayerFactory()
    rnd = RoundFactory(
        player=player,
        cluster_map=cluster_map,
        status=Round.Status.DONE,
        outcome=outcome,
        step=5 if outcome == Round.Outcome.RESIGN else step,
        guess=guess or "",
    )
    for position, text in enumerate(texts):
        CharacteristicFactory(round=rnd, player=player, position=position, text=text)
    return rnd
