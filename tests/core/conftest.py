"""Fixtures for the role tests: one user per role, a client per role, and a small world of real
records (a live campaign with an image, clusters, a played round, processed labels, an export)
from which the role matrix builds a concrete URL for every URL pattern."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from core.roles import CAMPAIGN_ADMIN_GROUP, RESEARCHER_GROUP
from game.services import SESSION_PLAYER_KEY

_serial = itertools.count()
GUEST_CSRF = "g" * 32


def user_make(username: str, *, groups: tuple[str, ...] = (), **fields):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(
        username=username, password="pw-" + username, **fields
    )
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


def role_user(role: str):
    """The user of a role (None for anonymous and guest). ``staff`` is a superuser, as
    ``createsuperuser`` makes: the Django admin shows it every model."""
    if role in ("anonymous", "guest"):
        return None
    name = f"{role}-{next(_serial)}"
    if role == "player":
        return user_make(name)
    if role == "researcher":
        return user_make(name, groups=(RESEARCHER_GROUP,))
    if role == "campaign_admin":
        return user_make(name, groups=(CAMPAIGN_ADMIN_GROUP,))
    if role == "staff":
        return user_make(name, is_staff=True, is_superuser=True)
    raise ValueError(role)


def _role_client(role: str, **client_kwargs) -> Client:
    """A client signed in as ``role``. A guest starts playing through the real form."""
    client = Client(**client_kwargs)
    if role == "guest":
        client.cookies["csrftoken"] = GUEST_CSRF  # passes the CSRF check if the client enforces it
        response = client.post(
            "/game/guest/", {"nickname": "Matrix guest", "csrfmiddlewaretoken": GUEST_CSRF}
        )
        assert response.status_code == 302, response.content[:500]
        assert SESSION_PLAYER_KEY in client.session, "the guest form started no session"
    user = role_user(role)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def role_client(db):
    """``role_client(role, **Client kwargs)``: a new user of that role and a client signed in."""
    return _role_client


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and the game's caches must not leak between tests."""
    cache.clear()
    yield
    cache.clear()


@dataclass
class World:
    """The records behind the URLs, and the value of every URL keyword argument."""

    kwargs: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def world(db, settings, monkeypatch) -> World:
    from allauth.account.models import EmailAddress
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    import workers.runtime
    from explanations.selectors import class_slug
    from processing import services as processing_services
    from processing.models import CampaignExport, CurationRule, LabelGroup
    from processing.nlp.embed import HashingEmbedder
    from tests.factories import (
        CampaignFactory,
        PlayerFactory,
        make_finished_round,
        make_image_items,
        store,
    )
    from validation.models import ValidationRun
    from workers.models import WorkerHeartbeat

    settings.NETVIZ_GROUPING = {"template": "{}"}
    hashing = HashingEmbedder()
    monkeypatch.setattr(workers.runtime, "embedder_get", lambda *a, **k: hashing)

    campaign = CampaignFactory(slug="matrix-campaign")  # published: live
    items = make_image_items(campaign=campaign, true_class="English springer")
    image = items[0].image
    other = PlayerFactory(nickname="someone-else")
    rnd = make_finished_round(cluster_map=items[0], player=other, texts=["ears", "collar"])
    processing_services.round_process(round_id=rnd.pk, embedder=hashing)
    group = LabelGroup.objects.filter(campaign=campaign).order_by("pk").first()
    processing_services.label_group_rename(group=group, name="floppy ears", embedder=hashing)
    export = CampaignExport.objects.create(
        campaign=campaign,
        token=secrets.token_urlsafe(32),
        status=CampaignExport.Status.DONE,
        file=store("exports", b"PK\x05\x06" + b"\0" * 18, ".zip"),
    )
    ValidationRun.objects.create(campaign=campaign, params_hash="0" * 64)
    WorkerHeartbeat.objects.create(hostname="matrix-worker", last_seen=timezone.now())
    someone = user_make("matrix-someone")
    EmailAddress.objects.create(user=someone, email="someone@example.org", verified=True)

    kwargs = {
        "slug": campaign.slug,
        "image_id": image.pk,
        "position": 0,
        "index": 0,
        "members": "all",
        "fmt": "json",
        "step": 0,
        "class_slug": class_slug(image.true_class),
        "class_slug_": class_slug(image.true_class),
        "token": rnd.token,
        "kind": "picture",
        "job_id": items[0].layer_result.job_id,
        "characteristic_id": rnd.characteristics.order_by("pk").first().pk,
        "player_id": other.pk,
        "group_id": group.pk,
        "rule_id": CurationRule.objects.filter(campaign=campaign).first().pk,
        "question_id": 1,  # a verification question (its endpoint is POST only)
        "name": campaign.model.name,
        "path": image.file.name,
        "id": someone.pk,
        "content_type_id": ContentType.objects.get_for_model(type(campaign)).pk,
        "app_label": "explanations",
        "url": "no-such-page/",
        "key": "not-a-key",
        "uidb36": "1",
    }
    return World(
        kwargs=kwargs,
        objects={
            "campaign": campaign,
            "image": image,
            "round": rnd,
            "export": export,
            "someone": someone,
        },
    )
