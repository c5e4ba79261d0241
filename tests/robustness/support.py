"""A small world with one record of every kind a URL can name, for the no-5xx crawls.

A played and processed campaign (images, layers, clusters, merged groups, label groups, label
scores), a draft campaign, a failed job, a curation rule, an export, a staff user who plays (an
active round), and the ids and tokens that fill every URL parameter with a valid value.
"""

from __future__ import annotations

import secrets
import traceback
from dataclasses import dataclass, field

from tests.factories import (
    CampaignFactory,
    CampaignImageFactory,
    ExplanationJobFactory,
    PlayerFactory,
    RoundFactory,
)
from tests.viewer.support import played_campaign

# Values that match a path converter but name nothing sensible: a number past every integer
# column (and past 64 bits), a huge slug, and strings with NUL, traversal, HTML and non-ASCII.
HUGE_INT = "99999999999999999999"
BAD_VALUES = {
    "int": [HUGE_INT, str(2**63), "0", "-1"],
    "slug": ["no-such-thing", "x" * 3000, HUGE_INT],
    "str": ["%00", "..%2F..%2Fetc", "%C3%A9t%C3%A9%F0%9F%98%80", "x" * 3000, "<script>"],
    "members": [HUGE_INT, "-".join(["1"] * 400), "0-" + HUGE_INT],
    "path": ["images/", "images/../../../etc/passwd", "images/%00.png", "views/" + "x" * 3000],
}

# Every query parameter a page or API reads, each with nonsense, plus the brief's examples.
BAD_QUERY = {
    "page": "abc",
    "layer": "-1",
    "cluster": "x",
    "view": "bogus",
    "campaign": "../../",
    "q": "é" * 600,
    "rank": "x\x00",
    "show": "nope",
    "model": "../../x",
    "period": "forever",
    "hidden": "maybe",
    "class": "\x00",
    "blocked": "2",
    "refused": "x",
    "kind": "<b>",
    "top": HUGE_INT,
    "normalised": "perhaps",
    "limit": "-5",
    "next": "//evil.example/",
    "step": HUGE_INT,
    "fmt": "exe",
}

# Form bodies for POSTs: every field name a form or API reads, with values of the wrong kind.
BAD_FORM = {
    "nickname": "\x00" * 3,
    "campaign": "../../<script>",
    "action": "explode",
    "hidden": "x" * 5000,
    "blocked": "-1",
    "return_query": "\x00",
    "name": "é" * 500,
    "slug": "not a slug!",
    "model": HUGE_INT,
    "classes": "\x00",
    "true_class": "\x00",
    "target_class": HUGE_INT,
    "layers": "-1",
    "mode": "bogus",
    "seed": HUGE_INT,
    "game_size": "-1",
    "target_rounds": HUGE_INT,
    "text": "x" * 5000,
    "keys": "[1,",
    "choice": "\x00",
}


# The same names, each holding a NUL character (which PostgreSQL refuses in text).
NUL_QUERY = {name: "a\x00b" for name in BAD_QUERY}
NUL_FORM = {name: "a\x00b" for name in BAD_FORM}


@dataclass
class World:
    """Valid values for every URL parameter name (by name), and the staff user."""

    staff: object
    values: dict[str, str] = field(default_factory=dict)


def build_world() -> World:
    from django.contrib.auth import get_user_model

    from explanations.models import ExplanationJob
    from game.models import Characteristic
    from processing.models import CampaignExport, CurationRule, LabelGroup

    campaign, images = played_campaign()
    CampaignFactory(name="Draft", slug="draft", status="draft")
    staff = get_user_model().objects.create_user("staffer", password="pw-staffer", is_staff=True)
    item = images["English springer"][0]
    round = RoundFactory(player=PlayerFactory(user=staff, nickname="Staffer"), cluster_map=item)
    job = ExplanationJobFactory(
        image=CampaignImageFactory(campaign=campaign), status=ExplanationJob.Status.FAILED
    )
    group = LabelGroup.objects.filter(campaign=campaign).first()
    rule = CurationRule.objects.create(
        campaign=campaign, class_name=group.class_name, action="block", keys=["fur"]
    )
    export = CampaignExport.objects.create(campaign=campaign, token=secrets.token_urlsafe(24))
    image = item.image
    values = {
        "slug": campaign.slug,
        "name": campaign.model.name,
        "image_id": str(image.pk),
        "position": "0",
        "index": "0",
        "step": "0",
        "members": "0-1",
        "fmt": "png",
        "class_slug": "english-springer",
        "class_slug_": "english-springer",
        "job_id": str(job.pk),
        "characteristic_id": str(Characteristic.objects.first().pk),
        "player_id": str(round.player_id),
        "group_id": str(group.pk),
        "rule_id": str(rule.pk),
        "token": round.token,
        "export_token": export.token,
        "kind": "overlay",
        "path": image.file.name,
        "key": "abc",
        "uidb36": "1",
    }
    return World(staff=staff, values=values)


def app_frame(exc: BaseException) -> traceback.FrameSummary:
    """The innermost frame of the project's own code (not a library, not a test)."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if "site-packages" not in f.filename and "/tests/" not in f.filename]
    return (own or frames)[-1]
