"""Shared fixtures: an isolated MEDIA_ROOT per test and a tiny TorchScript classifier."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from core.roles import CAMPAIGN_ADMIN_GROUP, RESEARCHER_GROUP

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Fixtures shared across test folders (``explained``: validation and the viewer's pages).
pytest_plugins = ["tests.validation.support"]


def is_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def services_required() -> bool:
    return os.environ.get("NETVIZ_REQUIRE_SERVICES") == "1"


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    """Every test writes its files to its own MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_game_caches():
    """The game's per-process caches (campaign cards, playable items) start empty in each test:
    ids are reused after a rolled-back test, and rollbacks send no signals. Rate-limit counters
    (game throttles, the guest-creation limits, allauth) start empty too: every test client
    comes from 127.0.0.1."""
    from django.core.cache import cache

    from game import selectors

    selectors.campaign_card_evict()
    selectors.playable_items_evict()
    cache.clear()
    yield


class SentTask(NamedTuple):
    name: str
    args: tuple
    kwargs: dict
    queue: str | None
    countdown: float | None = None


@pytest.fixture
def sent_tasks(monkeypatch) -> list[SentTask]:
    """The tasks sent to the broker in this test, recorded instead of sent (services enqueue
    through ``core.enqueue``, which sends with the Celery app's ``send_task``)."""
    from netviz_site.celery import app

    sent: list[SentTask] = []

    def send_task(name, args=None, kwargs=None, **options):
        sent.append(
            SentTask(
                name,
                tuple(args or ()),
                dict(kwargs or {}),
                options.get("queue"),
                options.get("countdown"),
            )
        )

    monkeypatch.setattr(app, "send_task", send_task)
    return sent


def build_tiny_model(*, negative_head: bool = False):
    """A tiny CNN: conv(3→4)·ReLU → conv(4→6)·ReLU → global average pool → linear(6→3).

    With ``negative_head`` every head weight is −1 after non-negative ReLU features, so the
    gradient of every logit w.r.t. the last conv's ReLU output is negative everywhere: that layer
    has no positive evidence.
    """
    import torch
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
            self.act1 = nn.ReLU()
            self.conv2 = nn.Conv2d(4, 6, 3, padding=1, stride=2)
            self.act2 = nn.ReLU()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(6, 3)

        def forward(self, x):
            x = self.act2(self.conv2(self.act1(self.conv1(x))))
            return self.fc(torch.flatten(self.pool(x), 1))

    torch.manual_seed(0)
    model = Tiny().eval()
    if negative_head:
        with torch.no_grad():
            model.fc.weight.fill_(-1.0)
            model.fc.bias.zero_()
    return model


def tiny_torchscript_bytes(*, negative_head: bool = False) -> bytes:
    import torch

    scripted = torch.jit.script(build_tiny_model(negative_head=negative_head))
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    return buffer.getvalue()


TINY_CLASSES = ("red thing", "green thing", "blue thing")


@pytest.fixture
def tiny_model_files(tmp_path) -> tuple[Path, Path]:
    weights = tmp_path / "tiny.pt"
    weights.write_bytes(tiny_torchscript_bytes())
    classes = tmp_path / "classes.txt"
    classes.write_text("\n".join(TINY_CLASSES) + "\n")
    return weights, classes


def photo_png(name: str = "chelsea", size: int | None = None) -> bytes:
    """A real photo from scikit-image as PNG bytes."""
    from PIL import Image
    from skimage import data

    array = getattr(data, name)()
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    image = Image.fromarray(array[..., :3])
    if size:
        image = image.resize((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def model_registered(**fields):
    """A model registered and validated here, as the ``validate_model`` task would (``fields``:
    the arguments of ``model_spec_create``)."""
    from explanations.services import model_spec_create, model_spec_validated

    return model_spec_validated(spec=model_spec_create(enqueue=False, **fields))


@pytest.fixture
def tiny_spec(db):
    return model_registered(
        name="tiny",
        kind="torchscript",
        weights=("tiny.pt", tiny_torchscript_bytes()),
        class_names=("classes.txt", ("\n".join(TINY_CLASSES) + "\n").encode()),
    )


@pytest.fixture
def tiny_campaign(tiny_spec):
    from explanations.services import campaign_create

    return campaign_create(
        name="Tiny campaign",
        model=tiny_spec,
        classes=list(TINY_CLASSES),
        engine_params={"mode": "fast", "game_size": 128},
    )


# --- users with roles (admin_client overrides pytest-django's: a campaign admin, not staff) ------


@pytest.fixture
def admin_user_group(db):
    return _role_user("camp-admin", groups=(CAMPAIGN_ADMIN_GROUP,))


@pytest.fixture
def researcher_user(db):
    return _role_user("researcher1", groups=(RESEARCHER_GROUP,))


@pytest.fixture
def player_user(db):
    return _role_user("player1")


@pytest.fixture
def admin_client(client, admin_user_group):
    client.force_login(admin_user_group)
    return client


@pytest.fixture
def staff_client(client, db):
    """A staff member (``is_staff``): every role, and TorchScript uploads by default."""
    from tests.campaigns.support import make_user

    client.force_login(make_user("staff1", staff=True))
    return client


@pytest.fixture
def researcher_client(client, researcher_user):
    client.force_login(researcher_user)
    return client


@pytest.fixture
def player_client(client, player_user):
    client.force_login(player_user)
    return client


def _role_user(username: str, *, groups: tuple[str, ...] = ()):
    from tests.campaigns.support import make_user

    return make_user(username, groups=groups)
