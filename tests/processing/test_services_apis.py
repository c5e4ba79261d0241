"""Researcher API over processed labels: permissions, reads, curation, processing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from core.roles import RESEARCHER_GROUP
from processing import services
from processing.models import CurationRule, LabelGroup
from tests.factories import make_finished_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def played(springer_items, players, hashing, monkeypatch):
    import workers.runtime

    monkeypatch.setattr(workers.runtime, "embedder_get", lambda *a, **k: hashing)
    plays = [["ears", "nose"], ["Ears", "collar"], ["leash"], ["<b>x</b>"]]
    for player, texts in zip(players, plays):
        rnd = make_finished_round(cluster_map=springer_items[0], player=player, texts=texts)
        services.round_process(round_id=rnd.pk, embedder=hashing)
    return springer_items[0].image.campaign


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def researcher(db):
    user = User.objects.create_user("rita", password="pw")
    user.groups.add(Group.objects.get(name=RESEARCHER_GROUP))
    return client_for(user)


def base(campaign) -> str:
    return f"/api/processing/campaigns/{campaign.slug}/"


def test_only_researchers_and_staff_may_read(played):
    url = base(played) + "label-groups/"
    assert client_for().get(url).status_code == 403
    player_user = User.objects.create_user("pat", password="pw")
    assert client_for(player_user).get(url).status_code == 403
    staff = User.objects.create_user("sam", password="pw", is_staff=True)
    assert client_for(staff).get(url).status_code == 200
    rita = User.objects.create_user("rita", password="pw")
    rita.groups.add(Group.objects.get(name=RESEARCHER_GROUP))
    assert client_for(rita).get(url).status_code == 200
    assert client_for().post(base(played) + "process/").status_code == 403


def test_groups_list_and_detail_with_provenance(played, researcher, players):
    groups = researcher.get(base(played) + "label-groups/").json()
    by_label = {g["label"]: g for g in groups}
    assert by_label["ears"]["count"] == 2
    assert by_label["ears"]["members"] == [{"key": "ear", "count": 2, "surfaces": {"ears": 2}}]
    assert researcher.get(base(played) + "label-groups/?q=lea").json()[0]["label"] == "leash"
    detail = researcher.get(base(played) + f"label-groups/{by_label['ears']['id']}/").json()
    assert sorted(m["raw"] for m in detail["mentions"]) == ["Ears", "ears"]
    assert {m["player"] for m in detail["mentions"]} == {players[0].pk, players[1].pk}
    assert all(m["guessed_class"] == "English springer" for m in detail["mentions"])
    refused = researcher.get(base(played) + "mentions/?refused=1").json()
    assert [(m["raw"], m["refused_reason"]) for m in refused] == [("<b>x</b>", "markup")]
    assert researcher.get(base(played) + "label-groups/999999/").status_code == 404
    state = researcher.get(base(played)).json()
    assert (state["n_mentions"], state["n_refused"], state["pending"]) == (5, 1, 0)


def test_curation_endpoints(played, researcher):
    ids = {g.label: g.pk for g in LabelGroup.objects.all()}
    url = base(played) + "label-groups/"
    resp = researcher.post(url + f"{ids['ears']}/rename/", {"name": "lop ears"}, format="json")
    assert resp.status_code == 200 and resp.json()["label"] == "lop ears"
    resp = researcher.post(
        url + "merge/", {"group_ids": [ids["collar"], ids["leash"]], "name": "gear"}, format="json"
    )
    assert resp.status_code == 200 and {m["key"] for m in resp.json()["members"]} == {
        "collar",
        "leash",
    }
    gear = resp.json()["id"]
    resp = researcher.post(url + f"{gear}/split/", {"keys": ["leash"]}, format="json")
    assert resp.status_code == 200 and resp.json()["label"] == "leash"
    resp = researcher.post(url + f"{ids['nose']}/block/", {"blocked": True}, format="json")
    assert resp.json()["blocked"] is True
    bad = researcher.post(url + f"{ids['nose']}/rename/", {"name": " "}, format="json")
    assert bad.status_code == 400
    bad = researcher.post(url + f"{ids['nose']}/split/", {"keys": ["zzz"]}, format="json")
    assert bad.status_code == 400 and "Not members" in bad.json()["detail"]
    rules = researcher.get(base(played) + "curation/").json()
    assert [r["action"] for r in rules] == ["rename", "merge", "split", "block"]
    assert CurationRule.objects.count() == 4


def test_scores_merged_groups_and_globals(played, researcher, springer_items):
    image = springer_items[0].image
    rows = researcher.get(base(played) + f"images/{image.pk}/scores/").json()
    assert len(rows) == 4
    labelled = [r for r in rows if r["labelled"]]
    assert len(labelled) == 1 and labelled[0]["rounds"] == 4
    assert labelled[0]["scores"][0]["label"] == "ears" and labelled[0]["scores"][0]["groups"]
    unlabelled = [r for r in rows if not r["labelled"]]
    assert sorted(r["weight"] for r in unlabelled) == [40.0, 40.0, 60.0]
    assert all(r["scores"] == [] for r in unlabelled)
    merged = researcher.get(base(played) + f"images/{image.pk}/merged-groups/?kind=full").json()
    assert len(merged) == 2 and merged[0]["best"] == ["ears"]
    data = researcher.get(base(played) + "globals/?class=English springer").json()
    assert data["labels"][0]["label"] == "ears" and data["labels"][0]["n_images"] == 1
    assert researcher.get(base(played) + "globals/?top=x").status_code == 400


def test_process_endpoint_enqueues(
    played, researcher, monkeypatch, django_capture_on_commit_callbacks
):
    from workers import tasks

    calls = []
    monkeypatch.setattr(tasks.process_campaign, "delay", lambda *a: calls.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        resp = researcher.post(base(played) + "process/", {"rebuild": True}, format="json")
    assert resp.status_code == 202
    assert calls == [(played.pk, True)]
    assert researcher.get(base(played)).json()["status"] == "queued"


def test_merging_ids_past_any_id_column_is_a_400(played):
    """Found by the API fuzz: a group id past 64 bits reached the database (500)."""
    staff = client_for(User.objects.create_user("sam", password="pw", is_staff=True))
    ids = [g.pk for g in LabelGroup.objects.all()[:2]]
    for bad in (-(2**120), 2**63, 0):
        resp = staff.post(
            base(played) + "label-groups/merge/", {"group_ids": [ids[0], bad]}, format="json"
        )
        assert resp.status_code == 400, (bad, resp.content)
